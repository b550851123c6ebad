//! `entente`: the command-line client. Everything lives in `cli`; this only runs it.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
