//! Settings every command shares, resolved once: the environment, the global flags, the
//! repository (URL or Helm repository name), the endpoint and the credentials, each value with
//! where it came from ([`resolve`] -> [`Resolved`]).
pub mod credentials;
pub mod destination;
pub mod duration;
pub mod env;
mod global;
pub mod reference;
pub mod repositories;
mod resolve;
pub mod source;

use anyhow::Result;

use crate::registry::Registry;
pub use crate::settings::duration::{parse_duration, MAX_DURATION};
pub use crate::settings::env::{env_number, env_size, parse_size, read_if_exists, Env};
pub use crate::settings::global::{
    resolve_timeout, Global, TimeLimit, DEFAULT_ATTEMPTS, GETTER_DEFAULT_TIMEOUT,
};
use crate::settings::reference::CcrUrl;
pub use crate::settings::repositories::{
    entry_tls, find_entries, getter_credentials, helm_repositories, resolve_repo, HelmRepoEntry,
    Lookup, Repo,
};
pub use crate::settings::resolve::{
    explain_endpoint, resolve, resolve_endpoint, resolve_region, Connection, Resolved,
};
pub use crate::settings::source::{Source, Sourced};
use credentials::Credentials;

pub use destination::{Trust, REGIONS};

/// Builds a registry client for the repository: [`resolve`], then the transport and the
/// registry on top; nothing sent yet. Fails before any request when no credentials can be
/// found.
pub fn connect(url: &CcrUrl, explicit: Option<Credentials>, global: &Global) -> Result<Registry> {
    resolve(Some(url), explicit, global)?.into_registry(url, global.output())
}

/// The getter's repository: `url`, with the credentials Helm passes or those of the Helm
/// repository entry of the same URL (see [`getter_credentials`]).
pub fn getter_repo(url: &CcrUrl, global: &Global) -> Repo {
    Repo {
        url: url.clone(),
        display: url.repo_url(),
        credentials: getter_credentials(url, &global.env, &global.output()),
    }
}
