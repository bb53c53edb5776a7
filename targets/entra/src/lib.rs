//! The `entra` target (alias `azure-ad`): user photos in Entra ID / Microsoft 365 through
//! Microsoft Graph.
//!
//! It is the target most schools come for, and the one where doing it carefully matters most:
//! thousands of users, a tenant-wide write quota, tokens that expire mid-run, keys that are
//! mail addresses rather than ids. The crate is split by concern: [`config`] reads and checks
//! the section, [`auth`] gets tokens (secret, certificate, device code), [`client`] makes
//! single Graph requests, [`error`] turns Graph's answers into picday errors, and [`target`]
//! resolves people and sends photos. Retries, backoff and adaptive concurrency come from
//! `picday_core::layers`, like for every target; this crate only classifies what Graph said.

pub mod auth;
pub mod browser;
pub mod client;
pub mod config;
pub mod directory;
pub mod error;
pub mod target;

use std::sync::Arc;

use picday_core::registry::{OptionDoc, TargetFactory, TypeInfo};
use picday_core::{OptionSet, Registry, Result, Target, TargetSpec};

pub use target::EntraTarget;

/// The type name in configuration files.
pub const TYPE: &str = "entra";
/// Also accepted as `type`.
pub const ALIAS: &str = "azure-ad";

/// Adds the Entra target type to a registry.
pub fn register(registry: &mut Registry) {
    registry.register(Arc::new(EntraFactory));
}

#[derive(Debug)]
struct EntraFactory;

impl TargetFactory for EntraFactory {
    fn info(&self) -> TypeInfo {
        let own = vec![
            OptionDoc::required("tenant_id", "the directory (tenant) id or domain"),
            OptionDoc::required("client_id", "the application (client) id"),
            OptionDoc::optional(
                "client_secret",
                "none",
                "the client secret, e.g. { env = \"PICDAY_ENTRA_SECRET\" }",
            ),
            OptionDoc::optional(
                "certificate",
                "none",
                "the certificate: a .pfx/.p12 file, or PEM (with its key, unless private_key is set)",
            ),
            OptionDoc::optional(
                "certificate_password",
                "none",
                "the .pfx file's password, e.g. { env = \"PICDAY_PFX_PASSWORD\" }",
            ),
            OptionDoc::optional(
                "private_key",
                "from certificate",
                "the certificate's RSA private key (PEM), e.g. { file = \"key.pem\" }",
            ),
            OptionDoc::optional(
                "assertion",
                "\"ps256\"",
                "certificate assertion: \"ps256\" (x5t#S256) or \"rs256\" (x5t)",
            ),
            OptionDoc::optional(
                "auth",
                "inferred",
                "\"secret\", \"certificate\", or an administrator signs in: \"device_code\" or \"browser\"",
            ),
            OptionDoc::optional(
                "cloud",
                "\"global\"",
                "\"global\", \"usgov\", \"usgov-dod\" or \"china\"",
            ),
            OptionDoc::optional("login_url", "the cloud's", "overrides the sign-in host"),
            OptionDoc::optional("graph_url", "the cloud's", "overrides the Graph host"),
            OptionDoc::optional("timeout", "120", "seconds before a request is abandoned"),
            OptionDoc::optional(
                "backup",
                "\"best_effort\"",
                "when Graph cannot read a user's current photo: \"best_effort\" sends anyway \
                 (flagged \"no backup possible\"), \"required\" fails the person",
            ),
        ];
        TypeInfo::builtin(
            TYPE,
            &[ALIAS],
            "sets user photos in Entra ID (Azure AD) through Microsoft Graph",
            &OptionSet::new::<config::EntraConfig>(config::shared(), own),
        )
    }

    fn build(&self, spec: &TargetSpec) -> Result<Arc<dyn Target>> {
        Ok(Arc::new(EntraTarget::from_spec(spec)?))
    }
}
