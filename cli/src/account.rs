//! `pocketpds account create|list|export|import`: account administration on the node's database,
//! without HTTP, through `pocketpds_core::admin` (the same logic as `com.atproto.server.createAccount`
//! and `com.atproto.repo.importRepo`). Long transfers report their progress on stderr.

use clap::Subcommand;
use pocketpds_core::admin::{self, NewAccountRequest};
use pocketpds_core::config::Config;

/// The `account` subcommands.
#[derive(Subcommand)]
pub enum AccountCommand {
    /// Create an account with a new did:plc identity (registered at PDS_DID_PLC_URL).
    Create {
        /// The handle, under one of the service domains (PDS_SERVICE_HANDLE_DOMAINS).
        #[arg(long)]
        handle: String,
        /// The password (or PDS_ACCOUNT_PASSWORD, which keeps it out of the process list).
        #[arg(long, env = "PDS_ACCOUNT_PASSWORD", hide_env_values = true)]
        password: String,
        /// The email.
        #[arg(long)]
        email: Option<String>,
        /// An invite code, when the node requires one.
        #[arg(long)]
        invite_code: Option<String>,
    },
    /// List the accounts: DID, handle, status.
    List,
    /// Write an account's repository (repo.car) and blobs (blobs/, blobs.tsv) into a folder.
    Export {
        /// The account's DID.
        #[arg(long)]
        did: String,
        /// The folder to write (created if missing).
        #[arg(long)]
        out: std::path::PathBuf,
    },
    /// Load a folder written by `export` into a deactivated account (one moving here), verified
    /// against the DID document as importRepo does.
    Import {
        /// The account's DID.
        #[arg(long)]
        did: String,
        /// The folder to read.
        #[arg(long)]
        from: std::path::PathBuf,
    },
}

/// Reports a transfer's progress on stderr.
fn show(progress: admin::Progress) {
    match progress.total {
        Some(total) => eprintln!("{}: {}/{}", progress.what, progress.done, total),
        None => eprintln!("{}: {}", progress.what, progress.done),
    }
}

/// Runs an `account` subcommand on the database the configuration names.
pub async fn run(config: Config, command: AccountCommand) -> Result<(), String> {
    let state = pocketpds_core::node::open(config)
        .await
        .map_err(|e| e.to_string())?;
    match command {
        AccountCommand::Create {
            handle,
            password,
            email,
            invite_code,
        } => {
            let request = NewAccountRequest {
                handle,
                password,
                email,
                invite_code,
            };
            let account = admin::create_account(&state, &request)
                .await
                .map_err(|e| e.to_string())?;
            println!("created {} {}", account.did, account.handle);
        }
        AccountCommand::List => {
            let accounts = admin::all_accounts(&state)
                .await
                .map_err(|e| e.to_string())?;
            for account in &accounts {
                println!("{}\t{}\t{}", account.did, account.handle, account.status);
            }
            eprintln!("{} accounts", accounts.len());
        }
        AccountCommand::Export { did, out } => {
            admin::export_account(&state, &did, &out, &show)
                .await
                .map_err(|e| e.to_string())?;
            println!("exported {did} to {}", out.display());
        }
        AccountCommand::Import { did, from } => {
            let summary = admin::import_account(&state, &did, &from, &show)
                .await
                .map_err(|e| e.to_string())?;
            println!(
                "imported {did}: commit {} rev {}, {} records",
                summary.commit, summary.rev, summary.records
            );
        }
    }
    Ok(())
}
