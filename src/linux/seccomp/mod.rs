//! seccomp: compiles the spec's `linux.seccomp` to a BPF filter and installs it.
//! (Being written; see issue 5.)
