//! `entente`: the command-line client (its subcommands arrive with their own issue).

use clap::Parser;

/// The entente command-line client.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Server address.
    #[arg(long, env = "ENTENTE_SERVER", default_value = "http://127.0.0.1:50051")]
    server: String,
}

fn main() {
    let args = Args::parse();
    eprintln!(
        "entente: no subcommands yet; call {} with any gRPC client (see README)",
        args.server
    );
    std::process::exit(2);
}
