//! The few Directory API calls picday makes: users.photos update, get and delete, and reading a
//! user (for `check`, and the photo's etag that confirms an update).
//!
//! Each call takes a token from the [`Authenticator`]; a 401 means the token was refused, so it
//! is dropped and the call made once more with a fresh one (a token revoked or expired early),
//! which is token handling, not a retry policy: temporary failures go back to the caller as
//! temporary errors and the layers decide. User keys are percent-encoded as one path segment, so
//! a key can never reach another URL of the API.

use base64::Engine;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use picday_core::{Error, Result};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde::Deserialize;

use crate::auth::Authenticator;
use crate::error::GoogleError;

/// The Directory API's path prefix.
pub const DIRECTORY: &str = "/admin/directory/v1";

/// An answer from the API, whatever its status.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    /// The error for this (failed) reply.
    pub fn error(&self, what: &str) -> Error {
        crate::error::api_error(what, self.status, &self.headers, &self.body)
    }
}

/// What a delete found.
#[derive(Debug)]
pub enum Deleted {
    Removed,
    /// The user had no photo (404 about the photo, not the user).
    NoPhoto,
    /// HTTP 500: Google's delete is known to fail this way in bulk, likely for users without a
    /// photo, so the caller caps how often it is retried (GAM gives up after 2 tries).
    InternalError(Error),
}

/// The fields of a `UserPhoto` that picday reads.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserPhoto {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub primary_email: Option<String>,
    #[serde(default)]
    pub etag: Option<String>,
    #[serde(default)]
    pub photo_data: Option<String>,
    #[serde(default)]
    pub width: Option<u32>,
    #[serde(default)]
    pub height: Option<u32>,
}

/// The Directory API, for one service account.
#[derive(Debug)]
pub struct DirectoryClient {
    http: reqwest::Client,
    api_url: String,
    auth: Authenticator,
}

/// Percent-encodes a user key as a single path segment: everything but RFC 3986's unreserved
/// characters is encoded, `@` and `/` included, and `.` and `..` cannot be path steps.
pub use picday_http::encode_segment;

/// URL-safe base64 with `=` padding, as GAM sends it.
pub fn encode_photo(bytes: &[u8]) -> String {
    URL_SAFE.encode(bytes)
}

/// Decodes `photoData` whatever the alphabet (`-_` or `+/`) and padding (`=`, the documented
/// `*` or `.`, or none).
pub fn decode_photo(data: &str) -> Result<Vec<u8>> {
    let cleaned: String = data
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .map(|c| match c {
            '+' => '-',
            '/' => '_',
            c => c,
        })
        .collect();
    let trimmed = cleaned.trim_end_matches(['=', '*', '.']);
    URL_SAFE_NO_PAD
        .decode(trimmed)
        .map_err(|e| Error::protocol(format!("photoData is not base64: {e}")))
}

impl DirectoryClient {
    /// `api_url` without a trailing slash.
    pub fn new(http: reqwest::Client, api_url: String, auth: Authenticator) -> Self {
        DirectoryClient {
            http,
            api_url,
            auth,
        }
    }

    pub fn auth(&self) -> &Authenticator {
        &self.auth
    }

    /// The photo resource of a user.
    pub fn photo_url(&self, user_key: &str) -> String {
        format!(
            "{}{DIRECTORY}/users/{}/photos/thumbnail",
            self.api_url,
            encode_segment(user_key)
        )
    }

    /// The user resource.
    pub fn user_url(&self, user_key: &str) -> String {
        format!(
            "{}{DIRECTORY}/users/{}",
            self.api_url,
            encode_segment(user_key)
        )
    }

    /// Sends a request with a valid token; a refused token is renewed once.
    pub async fn send(
        &self,
        method: Method,
        url: &str,
        query: &[(&str, &str)],
        json: Option<&serde_json::Value>,
        what: &str,
    ) -> Result<Reply> {
        let response = picday_http::send_with_token(
            &self.auth,
            what,
            || {
                let mut request = self.http.request(method.clone(), url);
                if !query.is_empty() {
                    request = request.query(query);
                }
                if let Some(body) = json {
                    request = request.json(body);
                }
                request
            },
            // Any 401 from the Directory API is about the token.
            |_| true,
        )
        .await?;
        Ok(Reply {
            status: response.status,
            headers: response.headers,
            body: response.body,
        })
    }

    /// `users.photos.update`: sends the JPEG as URL-safe base64 with its type and size.
    pub async fn update_photo(
        &self,
        user_key: &str,
        jpeg: &[u8],
        width: u32,
        height: u32,
    ) -> Result<UserPhoto> {
        let what = "update photo";
        let body = serde_json::json!({
            "photoData": encode_photo(jpeg),
            "mimeType": "JPEG",
            "width": width,
            "height": height,
        });
        let reply = self
            .send(
                Method::PUT,
                &self.photo_url(user_key),
                &[],
                Some(&body),
                what,
            )
            .await?;
        if !reply.status.is_success() {
            return Err(reply.error(what));
        }
        // The body is informative only; an unexpected one does not undo the update.
        Ok(serde_json::from_slice(&reply.body).unwrap_or_default())
    }

    /// `users.photos.delete`. A 404 about the photo means there was none; a 404 about the user
    /// is [`picday_core::ErrorKind::NotFound`].
    pub async fn delete_photo(&self, user_key: &str) -> Result<Deleted> {
        let what = "delete photo";
        let reply = self
            .send(Method::DELETE, &self.photo_url(user_key), &[], None, what)
            .await?;
        if reply.status.is_success() {
            return Ok(Deleted::Removed);
        }
        if reply.status == StatusCode::NOT_FOUND
            && !GoogleError::parse(&reply.body).is_unknown_user()
        {
            return Ok(Deleted::NoPhoto);
        }
        if reply.status == StatusCode::INTERNAL_SERVER_ERROR {
            return Ok(Deleted::InternalError(reply.error(what)));
        }
        Err(reply.error(what))
    }

    /// `users.photos.get`: the stored photo's bytes, `None` if the user has none.
    pub async fn get_photo(&self, user_key: &str) -> Result<Option<Vec<u8>>> {
        let Some(photo) = self.photo_resource(user_key, &[], "get photo").await? else {
            return Ok(None);
        };
        match photo.photo_data.as_deref() {
            Some(data) if !data.is_empty() => decode_photo(data).map(Some),
            _ => Ok(None),
        }
    }

    /// `users.photos.get` with a partial response (`fields`, which every Google API method
    /// takes: developers.google.com/admin-sdk/directory/v1/guides/performance#partial-response)
    /// that leaves out `photoData`: whether the user has a photo, and its size, without its
    /// bytes. `None` if the user has none.
    pub async fn photo_meta(&self, user_key: &str) -> Result<Option<UserPhoto>> {
        let fields = [("fields", "id,etag,mimeType,width,height")];
        self.photo_resource(user_key, &fields, "get photo metadata")
            .await
    }

    /// `users.photos.get` with `query`: the `UserPhoto`, `None` if the user has none (a 404
    /// about the photo, not about the user).
    async fn photo_resource(
        &self,
        user_key: &str,
        query: &[(&str, &str)],
        what: &str,
    ) -> Result<Option<UserPhoto>> {
        let reply = self
            .send(Method::GET, &self.photo_url(user_key), query, None, what)
            .await?;
        if reply.status == StatusCode::NOT_FOUND
            && !GoogleError::parse(&reply.body).is_unknown_user()
        {
            return Ok(None);
        }
        if !reply.status.is_success() {
            return Err(reply.error(what));
        }
        serde_json::from_slice(&reply.body)
            .map(Some)
            .map_err(|e| Error::protocol(format!("{what}: unexpected answer: {e}")))
    }

    /// `users.get` with `fields=thumbnailPhotoEtag`: the etag of the user's photo, `None` when
    /// the user has none (a partial response leaves out a field that is not set). The User
    /// resource documents it as "Output only. ETag of the user's photo (Read-only)"
    /// (developers.google.com/admin-sdk/directory/reference/rest/v1/users); it changes when the
    /// photo does, which is how picday confirms an update.
    pub async fn photo_etag(&self, user_key: &str) -> Result<Option<String>> {
        let what = "read the user's thumbnailPhotoEtag";
        let v = self
            .user_fields(user_key, "thumbnailPhotoEtag", what)
            .await?;
        Ok(v["thumbnailPhotoEtag"]
            .as_str()
            .filter(|s| !s.is_empty())
            .map(str::to_string))
    }

    /// `users.get` with a few fields, for `check`.
    pub async fn get_user(&self, user_key: &str) -> Result<serde_json::Value> {
        let fields = "primaryEmail,isAdmin,isDelegatedAdmin,suspended";
        self.user_fields(user_key, fields, "read user").await
    }

    /// `users.get` for `fields` only (a partial response).
    async fn user_fields(
        &self,
        user_key: &str,
        fields: &str,
        what: &str,
    ) -> Result<serde_json::Value> {
        let reply = self
            .send(
                Method::GET,
                &self.user_url(user_key),
                &[("fields", fields)],
                None,
                what,
            )
            .await?;
        if !reply.status.is_success() {
            return Err(reply.error(what));
        }
        serde_json::from_slice(&reply.body)
            .map_err(|e| Error::protocol(format!("{what}: unexpected answer: {e}")))
    }

    /// `users.list` for one user of the account, for `check` without an administrator.
    pub async fn list_one_user(&self) -> Result<Option<String>> {
        let what = "list users";
        let url = format!("{}{DIRECTORY}/users", self.api_url);
        let reply = self
            .send(
                Method::GET,
                &url,
                &[
                    ("customer", "my_customer"),
                    ("maxResults", "1"),
                    ("fields", "users(primaryEmail)"),
                ],
                None,
                what,
            )
            .await?;
        if !reply.status.is_success() {
            return Err(reply.error(what));
        }
        let v: serde_json::Value = serde_json::from_slice(&reply.body)
            .map_err(|e| Error::protocol(format!("{what}: unexpected answer: {e}")))?;
        Ok(v["users"][0]["primaryEmail"].as_str().map(str::to_string))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a test that cannot unwrap has failed
mod tests {
    use super::*;

    #[test]
    fn user_keys_are_one_encoded_segment() {
        assert_eq!(encode_segment("a.b@school.example"), "a.b%40school.example");
        assert_eq!(encode_segment("x+tag@s.org"), "x%2Btag%40s.org");
        assert_eq!(encode_segment("../users"), "..%2Fusers");
        assert_eq!(encode_segment(".."), "%2E%2E");
        assert_eq!(encode_segment("é"), "%C3%A9");
    }

    #[test]
    fn photo_data_decodes_in_every_documented_and_seen_form() {
        let bytes: Vec<u8> = (0..=255u8).chain([0xfb, 0xff, 0xfe]).collect();
        let url_safe = URL_SAFE.encode(&bytes);
        let standard = base64::engine::general_purpose::STANDARD.encode(&bytes);
        assert!(url_safe.contains(['-', '_']) && standard.contains(['+', '/']));
        for form in [
            url_safe.clone(),
            url_safe.trim_end_matches('=').to_string(),
            standard.clone(),
            standard.trim_end_matches('=').to_string(),
            url_safe.replace('=', "*"),
            url_safe.replace('=', "."),
        ] {
            assert_eq!(decode_photo(&form).unwrap(), bytes, "{form}");
        }
        assert!(decode_photo("not base64!").is_err());
    }
}
