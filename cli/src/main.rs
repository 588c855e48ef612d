//! `pocketpds`: the desktop and Raspberry Pi daemon. It only parses arguments and calls
//! `pocketpds-core`; the server itself lives there so the phone bindings start the very same thing.

mod account;
mod dns;
mod logger;
mod status;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use pocketpds_core::config::Config;

/// An AT Protocol Personal Data Server.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// Log level: error, warn, info, debug or trace.
    #[arg(long, global = true, default_value = "info", env = "PDS_LOG_LEVEL", value_parser = parse_level)]
    log_level: log::LevelFilter,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a node until SIGINT or SIGTERM. Settings come from the PDS_* environment; flags override it.
    Serve {
        /// Port to listen on (PDS_PORT).
        #[arg(long)]
        port: Option<u16>,
        /// Address to listen on (PDS_BIND).
        #[arg(long)]
        bind: Option<std::net::IpAddr>,
        /// Public hostname (PDS_HOSTNAME).
        #[arg(long)]
        hostname: Option<String>,
        /// Public origin of the node or of the load balancer in front of it (PDS_PUBLIC_URL).
        #[arg(long)]
        public_url: Option<String>,
        /// Folder of the local database (PDS_DATA_DIRECTORY).
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Print the configuration this environment gives and what the node serving it reports:
    /// storage mode, primary, replication position and lag, the cluster's nodes.
    Status,
    /// Administer the accounts of the local database (works while a node serves it).
    Account {
        #[command(subcommand)]
        command: account::AccountCommand,
    },
}

fn parse_level(s: &str) -> Result<log::LevelFilter, String> {
    s.parse()
        .map_err(|_| format!("{s}: expected error, warn, info, debug or trace"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    logger::init(cli.log_level);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("pocketpds: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run(cli.command));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("pocketpds: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> Result<(), String> {
    let mut config = Config::from_env().map_err(|e| e.to_string())?;
    match command {
        Command::Serve {
            port,
            bind,
            hostname,
            public_url,
            data_dir,
        } => {
            if port.is_some() || hostname.is_some() || public_url.is_some() {
                // Re-derive the defaults that depend on these (public URL, handle domains).
                config = Config::from_vars(|name| {
                    match name {
                        "PDS_PORT" => port.map(|p| p.to_string()),
                        "PDS_HOSTNAME" => hostname.clone(),
                        "PDS_PUBLIC_URL" => public_url.clone(),
                        _ => None,
                    }
                    .or_else(|| std::env::var(name).ok())
                })
                .map_err(|e| e.to_string())?;
            }
            if let Some(bind) = bind {
                config.bind = bind;
            }
            if let Some(dir) = data_dir {
                config.data_directory = dir;
            }
            serve(config).await
        }
        Command::Status => status::run(&config).await,
        Command::Account { command } => account::run(config, command).await,
    }
}

/// The SMTP transport `PDS_EMAIL_SMTP_URL` names, if any (without it the node writes mail to its
/// log and says so at start).
fn smtp_mailer(
    config: &Config,
) -> Result<Option<std::sync::Arc<dyn pocketpds_core::mail::Mailer>>, String> {
    let Some(url) = &config.email_smtp_url else {
        return Ok(None);
    };
    let from = config
        .email_from_address
        .as_deref()
        .ok_or("PDS_EMAIL_FROM_ADDRESS is required with PDS_EMAIL_SMTP_URL")?;
    let mailer =
        pocketpds_core::mail::smtp::SmtpMailer::new(url, from).map_err(|e| e.to_string())?;
    Ok(Some(std::sync::Arc::new(mailer)))
}

async fn serve(config: Config) -> Result<(), String> {
    // The handlers are in place before the banner, so a signal sent as soon as the URL is printed
    // stops the node cleanly instead of killing the process.
    let mut signals = StopSignals::install()?;
    let platform = pocketpds_core::node::NodePlatform {
        dns: dns::HickoryTxt::for_node(config.dns_resolver),
        mailer: smtp_mailer(&config)?,
        ..Default::default()
    };
    let node = pocketpds_core::node::start_with(config, platform)
        .await
        .map_err(|e| e.to_string())?;
    println!(
        "PocketPDS {} serving {} (listening on {})",
        env!("CARGO_PKG_VERSION"),
        node.state.config.public_url,
        node.local_url()
    );
    signals.wait().await;
    log::info!("stopping");
    node.stop().await.map_err(|e| e.to_string())?;
    println!("stopped");
    Ok(())
}

/// SIGINT and SIGTERM (Ctrl-C elsewhere), listened for from the moment they are installed.
struct StopSignals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl StopSignals {
    fn install() -> Result<StopSignals, String> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let listen = |kind| signal(kind).map_err(|e| format!("cannot listen for signals: {e}"));
            Ok(StopSignals {
                interrupt: listen(SignalKind::interrupt())?,
                terminate: listen(SignalKind::terminate())?,
            })
        }
        #[cfg(not(unix))]
        {
            Ok(StopSignals {})
        }
    }

    async fn wait(&mut self) {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.interrupt.recv() => {}
                _ = self.terminate.recv() => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
