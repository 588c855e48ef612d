//! `pocketpds account …`: account administration on the node's database, without HTTP, through
//! `pocketpds_core::admin` — the same logic as `com.atproto.server.createAccount`, the
//! `com.atproto.admin.*` methods and `com.atproto.repo.importRepo`. Accounts are named by DID or
//! handle. Long transfers (`export`, `import`) report their progress on stderr.

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
    /// Show an account as `com.atproto.admin.getAccountInfo` does (JSON).
    Info {
        /// DID or handle.
        account: String,
    },
    /// Change an account's handle (and its DID document at the PLC directory), as
    /// `com.atproto.identity.updateHandle` does.
    SetHandle {
        /// DID or handle.
        account: String,
        /// The new handle: under one of the service domains, or a domain that already names the
        /// account.
        handle: String,
    },
    /// Change an account's email.
    SetEmail {
        /// DID or handle.
        account: String,
        /// The new address.
        email: String,
    },
    /// Set a new password (PDS_ACCOUNT_PASSWORD, else a random one, printed) and end the sessions.
    ResetPassword {
        /// DID or handle.
        account: String,
        /// The new password (or PDS_ACCOUNT_PASSWORD).
        #[arg(long, env = "PDS_ACCOUNT_PASSWORD", hide_env_values = true)]
        password: Option<String>,
    },
    /// Take an account down (its repository, records and blobs stop being served), or restore it.
    Takedown {
        /// DID or handle.
        account: String,
        /// Restore the account instead.
        #[arg(long)]
        reverse: bool,
        /// The takedown's reference (a case number, say).
        #[arg(long, default_value = "takedown")]
        reference: String,
    },
    /// Delete an account with its repository and blobs.
    Delete {
        /// DID or handle.
        account: String,
    },
    /// Make invite codes (printed one a line).
    CreateInvites {
        /// How many codes.
        #[arg(long, short = 'n', default_value_t = 1)]
        count: usize,
        /// How many accounts each may create.
        #[arg(long, default_value_t = 1)]
        uses: u32,
        /// The DID the codes are issued to (default: admin).
        #[arg(long = "for")]
        for_account: Option<String>,
    },
    /// List invite codes, newest first: code, uses/available, disabled, owner.
    Invites,
    /// Disable invite codes.
    DisableInvites {
        /// The codes.
        codes: Vec<String>,
    },
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
    /// against the DID document as importRepo does. Run it again to resume a stopped import: what
    /// an earlier run stored is not written again.
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
            let outcome = admin::import_account(&state, &did, &from, std::sync::Arc::new(show))
                .await
                .map_err(|e| e.to_string())?;
            match &outcome.repository {
                Some(summary) => println!(
                    "imported {did}: commit {} rev {}, {} records; {} blocks written, {} already staged",
                    summary.commit,
                    summary.rev,
                    summary.records,
                    summary.staged.stored,
                    summary.staged.reused
                ),
                None => println!(
                    "{did} already holds the repository of commit {}",
                    outcome.commit
                ),
            }
            println!(
                "blobs: {} uploaded ({} bytes), {} already present",
                outcome.blobs_uploaded, outcome.blob_bytes_uploaded, outcome.blobs_present
            );
        }
        other => return administer(&state, other).await.map_err(|e| e.to_string()),
    }
    Ok(())
}

/// The administration commands that work on existing accounts and invite codes.
async fn administer(
    state: &pocketpds_core::http::NodeState,
    command: AccountCommand,
) -> Result<(), admin::AdminError> {
    match command {
        AccountCommand::Info { account } => {
            let account = admin::find_account(state, &account).await?;
            let view = admin::account_view(state, &account).await?;
            println!(
                "{}",
                serde_json::to_string_pretty(&view).unwrap_or_default()
            );
        }
        AccountCommand::SetHandle { account, handle } => {
            let account = admin::find_account(state, &account).await?;
            admin::update_handle(state, &account.did, &handle).await?;
            println!("{} is now {handle}", account.did);
        }
        AccountCommand::SetEmail { account, email } => {
            let account = admin::find_account(state, &account).await?;
            admin::update_email(state, &account.did, &email).await?;
            println!("{} has the email {email}", account.did);
        }
        AccountCommand::ResetPassword { account, password } => {
            let account = admin::find_account(state, &account).await?;
            match password {
                Some(password) => {
                    admin::update_password(state, &account.did, &password).await?;
                    println!("password of {} changed", account.did);
                }
                None => {
                    let password = admin::reset_password(state, &account.did).await?;
                    println!("new password: {password}");
                }
            }
        }
        AccountCommand::Takedown {
            account,
            reverse,
            reference,
        } => {
            let account = admin::find_account(state, &account).await?;
            let reference = (!reverse).then_some(reference.as_str());
            admin::set_account_takedown(state, &account.did, reference).await?;
            let what = if reverse { "restored" } else { "taken down" };
            println!("{} {what}", account.did);
        }
        AccountCommand::Delete { account } => {
            let account = admin::find_account(state, &account).await?;
            admin::delete_account(state, &account.did).await?;
            println!("{} deleted", account.did);
        }
        AccountCommand::CreateInvites {
            count,
            uses,
            for_account,
        } => {
            let owners: Vec<String> = for_account.into_iter().collect();
            for (_, codes) in admin::create_invite_codes(state, count, uses, &owners).await? {
                for code in codes {
                    println!("{code}");
                }
            }
        }
        AccountCommand::Invites => {
            let mut after: Option<(i64, String)> = None;
            loop {
                let page = admin::list_invite_codes(
                    state,
                    after.as_ref().map(|(at, c)| (*at, c.as_str())),
                    admin::MAX_PAGE,
                )
                .await?;
                for code in &page {
                    println!(
                        "{}\t{}/{}\t{}\t{}",
                        code.code,
                        code.uses,
                        code.available,
                        if code.disabled { "disabled" } else { "enabled" },
                        code.for_account
                    );
                }
                match page.last() {
                    Some(last) if page.len() == admin::MAX_PAGE as usize => {
                        after = Some((last.created_at, last.code.clone()));
                    }
                    _ => break,
                }
            }
        }
        AccountCommand::DisableInvites { codes } => {
            admin::disable_invite_codes(state, &codes).await?;
            println!("{} codes disabled", codes.len());
        }
        AccountCommand::Create { .. }
        | AccountCommand::List
        | AccountCommand::Export { .. }
        | AccountCommand::Import { .. } => {}
    }
    Ok(())
}
