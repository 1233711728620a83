//! Parsing that builds clap's definition of only the verb that runs.
//!
//! The global flags are `global = true`, and building a command copies each global argument
//! into each of its subcommands (clap_builder's `Command::_propagate_global_args`), even
//! though the verbs are deferred and only one of them runs: 9 flags into 20 verbs on every
//! start. `Cli::parse_one_verb` finds the verb in argv first and parses with a top level that
//! holds only that verb, so the flags are copied into that verb alone. Anything it does not
//! read with certainty (no verb, an unknown one, `help`, `--help`, `--version`, a flag that is
//! not a top-level one) goes to `Cli::try_parse_from` and the full definition. Either way the
//! values, the help, the errors and the exit codes are the same (the tests below, and
//! scripts/cli-compare.sh against a previous binary).
//!
//! It saves page faults and wall time on every verb; the cost is that an argv that takes the
//! full path builds `Cli::command()` twice (the verb is looked up in it first). Both are
//! measured in docs/benchmarks.md ("Measurements the code cites").

use std::ffi::OsString;

use clap::{Arg, ArgAction, CommandFactory, FromArgMatches, Parser, Subcommand};

use super::{Cli, CliOf};

/// No verbs: `CliOf<NoVerbs>` is rind's top level alone.
#[derive(Debug, Subcommand)]
enum NoVerbs {}

impl Cli {
    /// Parses the process's arguments to what `Cli::parse` gives, and prints the same help and
    /// errors and exits with the same codes, but builds clap's definition of only the verb
    /// that runs.
    pub fn parse_one_verb() -> Cli {
        Cli::try_parse_one_verb_from(std::env::args_os()).unwrap_or_else(|e| e.exit())
    }

    /// `Cli::try_parse_from`, building only the verb that runs (see [`Cli::parse_one_verb`]).
    pub fn try_parse_one_verb_from<I, T>(args: I) -> Result<Cli, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
        let Some(cmd) = one_verb_command(&args) else {
            return Cli::try_parse_from(args);
        };
        let mut matches = cmd.try_get_matches_from(args)?;
        // Formatted as `Parser::try_parse_from` formats a conversion error.
        Cli::from_arg_matches_mut(&mut matches).map_err(|e| e.format(&mut Cli::command()))
    }
}

/// rind's top level with only the verb that `args` names, or `None` if [`verb_in`] finds none.
fn one_verb_command(args: &[OsString]) -> Option<clap::Command> {
    let full = Cli::command();
    let verb = full.find_subcommand(verb_in(&full, args)?)?.clone();
    // The same derive as `Cli::command()`, without its verbs; `verb` keeps the display order
    // it has among all of them.
    Some(CliOf::<NoVerbs>::command().subcommand(verb))
}

/// The word of `args` (after the program's name) that clap takes for a verb of `top`: the
/// first that is not a flag, when only `top`'s own long flags come before it, as `--flag`,
/// `--option VALUE` or `--option=VALUE`. `None` for any other argv, which clap then parses
/// with the full definition: for a short flag, `--`, `-`, an unknown flag, a flag given a
/// value, an option whose next word starts with `-`, or a word that is not UTF-8.
fn verb_in<'a>(top: &clap::Command, args: &'a [OsString]) -> Option<&'a str> {
    if top.get_positionals().next().is_some() {
        return None;
    }
    let mut words = args.iter().skip(1);
    while let Some(word) = words.next() {
        let word = word.to_str()?;
        let Some(flag) = word.strip_prefix("--") else {
            return (!word.starts_with('-')).then_some(word);
        };
        let (name, inline_value) = match flag.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (flag, None),
        };
        let arg = top.get_arguments().find(|a| a.get_long() == Some(name))?;
        match (takes_one_value(arg)?, inline_value) {
            (false, None) | (true, Some(_)) => {}
            (false, Some(_)) => return None,
            (true, None) => {
                if words.next()?.to_str()?.starts_with('-') {
                    return None;
                }
            }
        }
    }
    None
}

/// Whether clap reads `arg` with one value (`Some(true)`) or none (`Some(false)`); `None` if
/// it may read more, or a value that starts with `-`, or only one after `=`.
fn takes_one_value(arg: &Arg) -> Option<bool> {
    let plain = !arg.is_allow_hyphen_values_set()
        && !arg.is_allow_negative_numbers_set()
        && !arg.is_require_equals_set()
        && !arg.is_last_set();
    let one = arg
        .get_num_args()
        .is_none_or(|n| n.min_values() == 1 && n.max_values() == 1);
    match arg.get_action() {
        ArgAction::SetTrue | ArgAction::SetFalse | ArgAction::Count => Some(false),
        ArgAction::Set | ArgAction::Append if plain && one => Some(true),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Command;
    use std::path::PathBuf;

    fn argv(line: &str) -> Vec<String> {
        std::iter::once("rind")
            .chain(line.split_whitespace())
            .map(String::from)
            .collect()
    }

    /// What a parse gave: the parsed command line, or the error's kind, exit code and text
    /// (for `--help` and `--version`, the text printed).
    fn outcome(r: Result<Cli, clap::Error>) -> String {
        match r {
            Ok(cli) => format!("{cli:?}"),
            Err(e) => format!("{:?} {} {}", e.kind(), e.exit_code(), e.render()),
        }
    }

    fn assert_same_as_full(line: &str) {
        let full = outcome(Cli::try_parse_from(argv(line)));
        let one = outcome(Cli::try_parse_one_verb_from(argv(line)));
        assert_eq!(one, full, "rind {line}");
    }

    #[test]
    fn a_global_flag_after_the_verb_is_honoured() {
        let cli = Cli::try_parse_one_verb_from(argv("state --root /x --debug c1")).unwrap();
        assert_eq!(cli.global.root_flag, Some(PathBuf::from("/x")));
        assert!(cli.global.debug);
        assert!(matches!(cli.command, Command::State { id } if id == "c1"));
        let cli = Cli::try_parse_one_verb_from(argv("image ls --store /s -q")).unwrap();
        assert_eq!(cli.global.store_flag, Some(PathBuf::from("/s")));
    }

    #[test]
    fn the_verb_is_found_after_global_flags_in_each_form() {
        for (line, verb) in [
            ("state c1", Some("state")),
            ("--root /x --debug run -b b c1", Some("run")),
            ("--root=/x --log-format json ls", Some("ls")),
            ("--root= state c1", Some("state")),
            ("--root state c1", Some("c1")),
            ("help state", Some("help")),
            ("--help state", None),
            ("-h state", None),
            ("--version", None),
            ("--bogus state c1", None),
            ("--debug=1 state c1", None),
            ("--root --debug state c1", None),
            ("-- state c1", None),
            ("", None),
        ] {
            let args: Vec<OsString> = argv(line).into_iter().map(Into::into).collect();
            assert_eq!(verb_in(&Cli::command(), &args), verb, "rind {line}");
        }
    }

    #[test]
    fn a_known_verb_builds_a_top_level_with_only_that_verb() {
        let args: Vec<OsString> = argv("--root /x ls").into_iter().map(Into::into).collect();
        let cmd = one_verb_command(&args).unwrap();
        let verbs: Vec<_> = cmd.get_subcommands().map(|c| c.get_name()).collect();
        assert_eq!(verbs, ["list"]);
        for line in ["nope c1", "help state", "--root state c1"] {
            let args: Vec<OsString> = argv(line).into_iter().map(Into::into).collect();
            assert!(one_verb_command(&args).is_none(), "rind {line}");
        }
    }

    #[test]
    fn an_unknown_verb_is_still_an_error() {
        let e = Cli::try_parse_one_verb_from(argv("--root /x nope c1")).unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::InvalidSubcommand);
        assert_same_as_full("--root /x nope c1");
        assert_same_as_full("stat c1");
    }

    #[test]
    fn parses_as_the_full_definition_does() {
        for line in [
            "",
            "--root /x",
            "--root /x --log /l --log-format json --debug --store /s --trace state c1",
            "--root=/x --trace-format json run -b b -d c1",
            "run --root /x -b b c1",
            "run -b b c1 --root /x --log-format json",
            "run --image busybox --rm -e A=1 --store /s -- sh -c true",
            "run --image x -b /b",
            "run --rm c1",
            "create --bundle /b --pid-file /p --root /x c1",
            "--log-format bad state c1",
            "--log-format=bad state c1",
            "--trace-format xml state c1",
            "--root a --root b state c1",
            "--root= state c1",
            "--root state c1",
            "--root --debug state c1",
            "--debug=1 state c1",
            "--rootless true state c1",
            "state --systemd-cgroup c1",
            "state",
            "state c1 c2",
            "state --roo /x c1",
            "state c1 --root",
            "kill --all c1 KILL --root /x",
            "delete -f --store /s c1",
            "ls -q --root /x",
            "list --format xml",
            "ps c1 -o pid --root /x",
            "exec -t -e A=1 c1 -- ls --root /x",
            "update --memory 1m --cpu-quota -1 c1",
            "events --interval bogus c1",
            "stop -t 3 a b",
            "image ls --format json --store /s",
            "image --root /x ls",
            "image pul x",
            "image pull --quiet --max-layer-ratio x oci:/o",
            "image",
            "image help pull",
            "help",
            "help state",
            "help image pull",
        ] {
            assert_same_as_full(line);
        }
    }

    #[test]
    fn every_verb_prints_the_same_help_and_errors() {
        let full = Cli::command();
        let mut verbs: Vec<String> = Vec::new();
        for verb in full.get_subcommands() {
            verbs.push(verb.get_name().to_string());
            verbs.extend(verb.get_all_aliases().map(String::from));
        }
        let mut image = Cli::command();
        image.build();
        for sub in image.find_subcommand("image").unwrap().get_subcommands() {
            verbs.push(format!("image {}", sub.get_name()));
        }
        for verb in &verbs {
            for line in [
                verb.clone(),
                format!("{verb} --help"),
                format!("--root /x {verb} -h"),
                format!("{verb} --store /s --version"),
                format!("{verb} --bogus"),
                format!("{verb} --log-format bad c1"),
            ] {
                assert_same_as_full(&line);
            }
        }
    }
}
