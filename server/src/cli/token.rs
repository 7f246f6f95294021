//! `tasksync token …`: role tokens for the server (an admin token, i.e. the
//! server's `--token`, is needed): `create` prints a new token once, `list`
//! shows them (never the tokens), `revoke` ends one.

use super::client::{CliError, Client, ClientArgs, seg};
use super::output;
use clap::{Args, Subcommand, ValueEnum};
use reqwest::Method;
use serde_json::{Value, json};

#[derive(Debug, Args)]
pub struct TokenArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    #[command(subcommand)]
    pub verb: TokenVerb,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RoleArg {
    Read,
    Write,
    Admin,
}

#[derive(Debug, Subcommand)]
pub enum TokenVerb {
    /// Make a token; it is printed once (stdout), never shown again.
    Create {
        #[arg(long, value_enum)]
        role: RoleArg,
        /// Limit it to this project (repeatable; default: every project).
        #[arg(long = "project", value_name = "PROJECT")]
        projects: Vec<String>,
        /// A name to tell it by in `token list`.
        #[arg(long)]
        name: Option<String>,
    },
    /// The tokens (their ids, roles and projects; never the tokens).
    List,
    /// End a token: requests with it get 401 from then on.
    Revoke { id: String },
}

pub async fn run(args: TokenArgs) -> Result<(), CliError> {
    let c = Client::new(&args.client)?;
    let json_out = args.client.json;
    match args.verb {
        TokenVerb::Create {
            role,
            projects,
            name,
        } => {
            let role = match role {
                RoleArg::Read => "read",
                RoleArg::Write => "write",
                RoleArg::Admin => "admin",
            };
            let mut body = json!({"role": role, "projects": projects});
            if let Some(n) = name {
                body["name"] = Value::String(n);
            }
            let made = c
                .send(Method::POST, "/api/tokens", Some(body), None)
                .await?;
            if json_out {
                output::json(&made);
            } else {
                println!("{}", made["token"].as_str().unwrap_or_default());
                let scope = if projects_of(&made).is_empty() {
                    "every project".to_owned()
                } else {
                    format!("project(s) {}", projects_of(&made).join(", "))
                };
                eprintln!(
                    "{role} token {} for {scope}: keep it now, it is not shown again",
                    made["id"].as_str().unwrap_or_default()
                );
                eprintln!(
                    "the board with it: {}/?token={}",
                    c.base(),
                    made["token"].as_str().unwrap_or_default()
                );
            }
        }
        TokenVerb::List => {
            let list = c.send(Method::GET, "/api/tokens", None, None).await?;
            if json_out {
                output::json(&list);
                return Ok(());
            }
            let mut rows = vec![vec![
                "ID".to_owned(),
                "ROLE".into(),
                "PROJECTS".into(),
                "NAME".into(),
                "CREATED".into(),
                "STATE".into(),
            ]];
            for t in list.as_array().into_iter().flatten() {
                let projects = projects_of(t);
                rows.push(vec![
                    t["id"].as_str().unwrap_or_default().to_owned(),
                    t["role"].as_str().unwrap_or_default().to_owned(),
                    if projects.is_empty() {
                        "all".into()
                    } else {
                        projects.join(",")
                    },
                    t["name"].as_str().unwrap_or_default().to_owned(),
                    t["createdAt"].as_str().unwrap_or_default().to_owned(),
                    if t["revoked"] == true {
                        "revoked"
                    } else {
                        "active"
                    }
                    .into(),
                ]);
            }
            if rows.len() == 1 {
                println!("no tokens");
            } else {
                output::table(&rows);
            }
        }
        TokenVerb::Revoke { id } => {
            c.send(
                Method::DELETE,
                &format!("/api/tokens/{}", seg(&id)),
                None,
                None,
            )
            .await?;
            if !json_out {
                println!("revoked {id}");
            }
        }
    }
    Ok(())
}

fn projects_of(v: &Value) -> Vec<String> {
    v["projects"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p.as_str().map(str::to_owned))
        .collect()
}
