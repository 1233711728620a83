//! OCI images: sources, digests, layer unpacking, the layer store, and image config to
//! runtime spec. (Being written; see issue 4.)
