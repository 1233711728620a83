use rind::cli::Cli;
use rind::{commands, logging};

fn main() {
    let cli = Cli::parse_one_verb();
    logging::init(
        cli.global.log.clone(),
        cli.global.log_format,
        cli.global.debug,
    );
    let code = match commands::dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            // The whole chain on one line: "create container c1: mount proc on /proc: ...",
            // with any value it quotes escaped and cut (error::one_line).
            logging::error(&format!("{e:#}"));
            1
        }
    };
    std::process::exit(code);
}
