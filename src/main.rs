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
            // The whole chain on one line: "create container c1: mount proc on /proc: ...".
            let msg = format!("{e:#}");
            logging::error(&msg);
            eprintln!("rind: {msg}");
            1
        }
    };
    std::process::exit(code);
}
