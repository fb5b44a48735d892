//! `stateset`: the commerce server and its maintenance commands.

use clap::{Parser, Subcommand};
use stateset::config::Config;

#[derive(Parser)]
#[command(name = "stateset", version, about = "StateSet commerce server")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve GraphQL, REST and gRPC (the default). Creates and migrates the database first.
    Serve {
        /// Do not create or migrate the database.
        #[arg(long)]
        no_migrate: bool,
        /// Load the demo catalog before serving (skipped for what already exists).
        #[arg(long)]
        seed_demo: bool,
    },
    /// Create the database if needed and apply pending migrations, then exit.
    Migrate,
    /// Run background work only: the outbox relay and upkeep (no HTTP or gRPC).
    Worker,
    /// Load data into the database.
    Seed {
        /// A small demo catalog (categories, products, variants).
        #[arg(long)]
        demo: bool,
    },
    /// Administer users.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Print the GraphQL schema (SDL), or write it to a file.
    ExportSchema {
        /// Where to write it; `-` for standard output.
        #[arg(long, default_value = "schema.graphql")]
        out: String,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create an administrator. The password comes from `STATESET_ADMIN_PASSWORD`, or is
    /// asked for at the terminal.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: Option<String>,
    },
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = %format!("{err:#}"), "stateset failed");
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let config = Config::from_env()?;
    stateset::telemetry::init(config.log_format);
    match cli.command.unwrap_or(Command::Serve {
        no_migrate: false,
        seed_demo: false,
    }) {
        Command::Serve {
            no_migrate,
            seed_demo,
        } => {
            let options = stateset::server::ServeOptions {
                migrate: !no_migrate,
                seed_demo,
            };
            stateset::server::serve(config, options).await
        }
        Command::Migrate => stateset::server::prepare_database(&config).await,
        Command::Worker => stateset::server::work(config).await,
        Command::Seed { demo } => {
            anyhow::ensure!(demo, "say what to seed: `stateset seed --demo`");
            stateset::server::prepare_database(&config).await?;
            let app = stateset::app::App::new(config)?;
            let report = stateset::seed::demo(&app.services).await?;
            println!(
                "demo shop loaded: {} categories, {} products, {} shipping methods, {} tax rates \
                 and {} discount codes created",
                report.categories_created,
                report.products_created,
                report.shipping_methods_created,
                report.tax_rates_created,
                report.discount_codes_created
            );
            Ok(())
        }
        Command::Admin {
            command: AdminCommand::Create { email, name },
        } => {
            let password = match std::env::var("STATESET_ADMIN_PASSWORD") {
                Ok(password) if !password.is_empty() => password,
                _ => {
                    let first = rpassword::prompt_password("Password for the new administrator: ")?;
                    let again = rpassword::prompt_password("Repeat it: ")?;
                    anyhow::ensure!(first == again, "the passwords differ");
                    first
                }
            };
            stateset::server::prepare_database(&config).await?;
            let app = stateset::app::App::new(config)?;
            let input = stateset::services::access::CreateUserInput {
                email,
                password,
                name,
                role_id: stateset::services::auth::ADMIN_ROLE,
            };
            let user = app
                .services
                .access
                .create_user(&stateset::services::Ctx::system(), input)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("administrator {} created (id {})", user.email, user.id);
            Ok(())
        }
        Command::ExportSchema { out } => {
            let sdl = stateset::adapters::graphql::sdl();
            if out == "-" {
                print!("{sdl}");
            } else {
                std::fs::write(&out, sdl)?;
                println!("wrote {out}");
            }
            Ok(())
        }
    }
}
