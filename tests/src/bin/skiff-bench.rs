//! `skiff-bench`: the benchmarks behind `make bench`. Each case prints a
//! Markdown section for BENCHMARKS.md on stdout.

use clap::{Parser, Subcommand};
use skiff_e2e::bench;

#[derive(Parser)]
#[command(about = "Benchmarks of skiff, printed as Markdown")]
struct Cli {
    #[command(subcommand)]
    case: Case,
}

#[derive(Subcommand)]
enum Case {
    /// Creates, gets and lists on the raw SQLite store.
    Store {
        /// Keys to create and read.
        #[arg(long, default_value_t = 10_000)]
        count: usize,
        /// Operations in flight at once.
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().case {
        Case::Store { count, concurrency } => {
            let results = bench::store::run(count, concurrency, 200).await?;
            println!("### Raw store (SQLite), {count} pod-sized values, {concurrency} in flight\n");
            println!("| operation | ops/s | p50 ms | p99 ms |");
            println!("|---|---|---|---|");
            println!("{}", results.creates.row("create"));
            println!("{}", results.gets.row("get"));
            println!("{}", results.lists.row("list 500"));
        }
    }
    Ok(())
}
