//! One read of the directory instead of a lookup per person.
//!
//! Resolving a key costs one to three Graph requests (UPN, then mail, then proxy address), and
//! every request of a person counts against the same throttling budget as the photo writes.
//! For a large mapping it is cheaper to page through the users once
//! (`GET /users?$select=id,userPrincipalName,mail,proxyAddresses&$top=999`, following
//! `@odata.nextLink`: learn.microsoft.com/graph/paging) and match every key in memory, with
//! the same order and the same case-insensitivity as the per-key lookups. A key that matches
//! two users at the deciding step is left to the per-key lookup, which refuses it and names
//! both.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use picday_core::{Error, Result};
use reqwest::Method;
use serde::Deserialize;

use crate::client::GraphClient;

/// From this many people in a run, the target lists the directory instead of looking each
/// person up. Below it, per-key lookups cost fewer requests than listing a school's tenant
/// (staff, students and alumni, often ten times the people pushed).
pub const LIST_FROM: usize = 200;

/// The first page of the listing: every property the matching needs, at Graph's largest
/// page size.
const FIRST_PAGE: &str = "/users?$select=id,userPrincipalName,mail,proxyAddresses&$top=999";

/// One user as the listing returns it.
#[derive(Debug, Deserialize)]
pub struct DirectoryUser {
    pub id: String,
    #[serde(default, rename = "userPrincipalName")]
    pub user_principal_name: Option<String>,
    #[serde(default)]
    pub mail: Option<String>,
    /// `SMTP:primary@...`, `smtp:alias@...`, `x500:...`, `sip:...`
    #[serde(default, rename = "proxyAddresses")]
    pub proxy_addresses: Vec<String>,
}

#[derive(Deserialize)]
struct Page {
    value: Vec<DirectoryUser>,
    #[serde(default, rename = "@odata.nextLink")]
    next_link: Option<String>,
}

/// What one listing read, for the run's notes.
#[derive(Debug, Clone)]
pub struct Listing {
    pub users: usize,
    pub pages: usize,
    pub elapsed: Duration,
}

/// Every user of the tenant, page by page. A next-page link that does not point at the Graph
/// endpoint picday was configured with is refused rather than followed with the token.
pub async fn list(graph: &GraphClient) -> Result<(Vec<DirectoryUser>, Listing)> {
    let started = Instant::now();
    let mut users = Vec::new();
    let mut pages = 0;
    let mut path = FIRST_PAGE.to_string();
    loop {
        let resp = graph.send(Method::GET, &path, None).await?;
        if !resp.status.is_success() {
            return Err(resp.error("listing the directory's users"));
        }
        let page: Page = serde_json::from_slice(&resp.body).map_err(|_| {
            Error::protocol("Graph answered a page of the user list without a value list")
        })?;
        pages += 1;
        users.extend(page.value);
        let Some(next) = page.next_link else { break };
        path = next
            .strip_prefix(graph.base())
            .filter(|rest| rest.starts_with('/'))
            .ok_or_else(|| {
                Error::protocol(format!(
                    "Graph's next page of the user list is at {next:?}, outside {}; not followed",
                    graph.base()
                ))
            })?
            .to_string();
    }
    let listing = Listing {
        users: users.len(),
        pages,
        elapsed: started.elapsed(),
    };
    Ok((users, listing))
}

/// The object id each key names among `users`, by id or userPrincipalName, then mail, then a
/// secondary address (`smtp:` in `proxyAddresses`), all without regard to case, as the
/// directory compares them. `None`: no user has it. A key left out matched two users at the
/// step that decided it.
pub fn matches(users: &[DirectoryUser], keys: &[String]) -> Vec<(String, Option<String>)> {
    let mut exact: HashMap<String, &str> = HashMap::new();
    let mut by_mail: HashMap<String, Vec<&str>> = HashMap::new();
    let mut by_proxy: HashMap<String, Vec<&str>> = HashMap::new();
    for u in users {
        exact.insert(u.id.to_lowercase(), &u.id);
        if let Some(upn) = &u.user_principal_name {
            exact.insert(upn.to_lowercase(), &u.id);
        }
        if let Some(mail) = &u.mail {
            by_mail.entry(mail.to_lowercase()).or_default().push(&u.id);
        }
        for address in &u.proxy_addresses {
            if let Some((kind, rest)) = address.split_once(':')
                && kind.eq_ignore_ascii_case("smtp")
            {
                let ids = by_proxy.entry(rest.to_lowercase()).or_default();
                if !ids.contains(&u.id.as_str()) {
                    ids.push(&u.id);
                }
            }
        }
    }
    keys.iter()
        .filter_map(|key| {
            let k = key.trim().to_lowercase();
            if let Some(id) = exact.get(&k) {
                return Some((key.clone(), Some(id.to_string())));
            }
            for found in [by_mail.get(&k), by_proxy.get(&k)] {
                match found.map(Vec::as_slice) {
                    Some([one]) => return Some((key.clone(), Some(one.to_string()))),
                    Some([]) | None => continue,
                    Some(_) => return None,
                }
            }
            Some((key.clone(), None))
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn user(id: &str, upn: &str, mail: Option<&str>, proxies: &[&str]) -> DirectoryUser {
        DirectoryUser {
            id: id.into(),
            user_principal_name: Some(upn.into()),
            mail: mail.map(str::to_string),
            proxy_addresses: proxies.iter().map(|p| p.to_string()).collect(),
        }
    }

    fn find(users: &[DirectoryUser], key: &str) -> Option<Option<String>> {
        matches(users, &[key.to_string()])
            .into_iter()
            .next()
            .map(|(_, id)| id)
    }

    #[test]
    fn keys_match_upn_then_mail_then_a_secondary_address_without_regard_to_case() {
        let users = [
            user(
                "u-1",
                "s1@school.example",
                Some("Ana.Silva@school.example"),
                &[
                    "SMTP:Ana.Silva@school.example",
                    "smtp:asilva@old.school.example",
                    "x500:/o=Exchange/cn=asilva",
                ],
            ),
            // Its mail is another user's UPN: the UPN wins, as in the per-key lookup.
            user("u-2", "s2@school.example", Some("s1@school.example"), &[]),
        ];
        assert_eq!(find(&users, "S1@School.Example"), Some(Some("u-1".into())));
        assert_eq!(find(&users, "u-2"), Some(Some("u-2".into())));
        assert_eq!(
            find(&users, "ana.silva@school.example"),
            Some(Some("u-1".into()))
        );
        assert_eq!(
            find(&users, "ASilva@old.school.example"),
            Some(Some("u-1".into()))
        );
        // An x500 address is not a mail address; nobody has this key.
        assert_eq!(find(&users, "/o=Exchange/cn=asilva"), Some(None));
        assert_eq!(find(&users, "nobody@school.example"), Some(None));
    }

    #[test]
    fn a_key_two_users_share_is_left_to_the_lookup_that_refuses_it() {
        let users = [
            user(
                "u-1",
                "a@school.example",
                None,
                &["smtp:office@school.example"],
            ),
            user(
                "u-2",
                "b@school.example",
                None,
                &["smtp:Office@school.example"],
            ),
        ];
        assert_eq!(find(&users, "office@school.example"), None);
        assert_eq!(find(&users, "a@school.example"), Some(Some("u-1".into())));
    }
}
