//! Who may do what: the admin token (`--token`), and tokens with a role
//! (`read`, `write` or `admin`), each optionally limited to projects, made
//! with `tasksync token create` and stored hashed (SHA-256; the token itself
//! is shown once). No HTTP here: `Grant::allows` says whether a grant covers
//! a request, `Tokens` finds the grant of a presented token.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads everything its projects allow: REST `GET`s and `/ws`.
    Read,
    /// Reads and changes tasks and sessions.
    Write,
    /// Everything, tokens included.
    Admin,
}

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "read" => Some(Role::Read),
            "write" => Some(Role::Write),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// A stored token: never the token itself, only its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenRecord {
    pub id: String,
    pub hash: String,
    pub role: Role,
    /// Empty: every project.
    pub projects: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub created_at: String,
    #[serde(default)]
    pub revoked: bool,
}

/// What a request may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub role: Role,
    /// Empty: every project.
    pub projects: Vec<String>,
    /// The token's id (`None`: the admin token, or no token on loopback).
    pub token: Option<String>,
}

/// Why a grant does not cover a request (→ 403).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused(pub String);

impl Grant {
    pub fn admin() -> Grant {
        Grant {
            role: Role::Admin,
            projects: vec![],
            token: None,
        }
    }

    pub fn everywhere(&self) -> bool {
        self.projects.is_empty()
    }

    pub fn covers(&self, project: Option<&str>) -> bool {
        self.everywhere() || project.is_some_and(|p| self.projects.iter().any(|q| q == p))
    }

    /// Whether this grant may read (`write` false) or change (`write` true)
    /// something of `project`.
    pub fn allows(&self, write: bool, project: Option<&str>) -> Result<(), Refused> {
        if write && self.role == Role::Read {
            return Err(Refused("this token may only read".into()));
        }
        if !self.covers(project) {
            return Err(Refused(match project {
                Some(p) => format!("this token does not cover project `{p}`"),
                None => format!(
                    "this token covers only project(s) {}; name one (`projectId`)",
                    self.projects.join(", ")
                ),
            }));
        }
        Ok(())
    }

    /// Whether this grant may manage tokens.
    pub fn may_manage_tokens(&self) -> Result<(), Refused> {
        if self.role == Role::Admin && self.everywhere() {
            Ok(())
        } else {
            Err(Refused("only an admin token may manage tokens".into()))
        }
    }
}

/// The SHA-256 of a token, in hex: what is stored and looked up.
pub fn hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A new token and its id: `tsk_<id>_<secret>` (128 random bits of secret).
pub fn new_token() -> (String, String) {
    let id = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
    let secret = uuid::Uuid::new_v4().simple().to_string();
    (format!("tsk_{id}_{secret}"), id)
}

/// The stored tokens, by hash, as last read.
#[derive(Debug, Default)]
pub struct Tokens {
    by_hash: HashMap<String, TokenRecord>,
}

impl Tokens {
    pub fn new(records: Vec<TokenRecord>) -> Tokens {
        Tokens {
            by_hash: records.into_iter().map(|r| (r.hash.clone(), r)).collect(),
        }
    }

    /// The grant of a presented token, if it is a stored one, not revoked.
    pub fn grant(&self, token: &str) -> Option<Grant> {
        self.by_hash
            .get(&hash(token))
            .filter(|r| !r.revoked)
            .map(|r| Grant {
                role: r.role,
                projects: r.projects.clone(),
                token: Some(r.id.clone()),
            })
    }

    /// Every record (for `token list`), oldest first.
    pub fn list(&self) -> Vec<&TokenRecord> {
        let mut v: Vec<&TokenRecord> = self.by_hash.values().collect();
        v.sort_by(|a, b| (&a.created_at, &a.id).cmp(&(&b.created_at, &b.id)));
        v
    }

    pub fn by_id(&self, id: &str) -> Option<&TokenRecord> {
        self.by_hash.values().find(|r| r.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(token: &str, role: Role, projects: &[&str], revoked: bool) -> TokenRecord {
        TokenRecord {
            id: token[..4].into(),
            hash: hash(token),
            role,
            projects: projects.iter().map(|p| p.to_string()).collect(),
            name: None,
            created_at: "2026-01-01T00:00:00.000Z".into(),
            revoked,
        }
    }

    #[test]
    fn grants_by_role_and_project() {
        let t = Tokens::new(vec![
            record("read-all", Role::Read, &[], false),
            record("writ-a", Role::Write, &["A"], false),
            record("gone-1", Role::Admin, &[], true),
        ]);
        assert!(t.grant("nope").is_none());
        assert!(t.grant("gone-1").is_none(), "revoked");
        let read = t.grant("read-all").unwrap();
        assert!(read.allows(false, Some("A")).is_ok() && read.allows(false, None).is_ok());
        assert!(read.allows(true, Some("A")).is_err());
        let write_a = t.grant("writ-a").unwrap();
        assert!(write_a.allows(true, Some("A")).is_ok());
        assert!(write_a.allows(true, Some("B")).is_err());
        assert!(
            write_a.allows(false, None).is_err(),
            "must name its project"
        );
        assert!(write_a.may_manage_tokens().is_err() && read.may_manage_tokens().is_err());
        assert!(Grant::admin().may_manage_tokens().is_ok());
        let (token, id) = new_token();
        assert!(token.starts_with(&format!("tsk_{id}_")) && token.len() == 4 + 12 + 1 + 32);
        assert_ne!(new_token().0, token);
    }
}
