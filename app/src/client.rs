//! Small JSON-over-HTTP helpers the dashboard uses to talk to the hub API.
//! Browser-only; on the server they answer with an error.

use serde::de::DeserializeOwned;
use serde::Serialize;

/// What a request that got no answer means for a person.
pub const UNREACHABLE: &str = "The hub cannot be reached right now.";

/// POSTs `body` as JSON to `path` with an optional bearer token and decodes
/// the JSON answer; a non-2xx answer becomes `Err` with the hub's message.
pub async fn post_json<B: Serialize, T: DeserializeOwned>(
    path: &str,
    token: Option<&str>,
    body: &B,
) -> Result<T, String> {
    #[cfg(not(feature = "ssr"))]
    {
        let mut req = gloo_net::http::Request::post(path);
        if let Some(t) = token {
            req = req.header("Authorization", &format!("Bearer {t}"));
        }
        let res = req
            .json(body)
            .map_err(|e| e.to_string())?
            .send()
            .await
            .map_err(|_| UNREACHABLE.to_string())?;
        decode(res).await
    }
    #[cfg(feature = "ssr")]
    {
        let _ = (path, token, serde_json::to_value(body));
        Err("not available during server rendering".into())
    }
}

/// GETs JSON from `path` with an optional bearer token.
pub async fn get_json<T: DeserializeOwned>(path: &str, token: Option<&str>) -> Result<T, String> {
    #[cfg(not(feature = "ssr"))]
    {
        let mut req = gloo_net::http::Request::get(path);
        if let Some(t) = token {
            req = req.header("Authorization", &format!("Bearer {t}"));
        }
        let res = req.send().await.map_err(|_| UNREACHABLE.to_string())?;
        decode(res).await
    }
    #[cfg(feature = "ssr")]
    {
        let _ = (path, token);
        Err("not available during server rendering".into())
    }
}

/// DELETEs `path` (same origin, so its cookies go along); a non-2xx
/// answer becomes `Err` with the hub's message.
pub async fn delete(path: &str) -> Result<(), String> {
    #[cfg(not(feature = "ssr"))]
    {
        let res = gloo_net::http::Request::delete(path)
            .send()
            .await
            .map_err(|_| UNREACHABLE.to_string())?;
        if res.ok() {
            return Ok(());
        }
        decode::<serde_json::Value>(res).await.map(|_| ())
    }
    #[cfg(feature = "ssr")]
    {
        let _ = path;
        Err("not available during server rendering".into())
    }
}

#[cfg(not(feature = "ssr"))]
async fn decode<T: DeserializeOwned>(res: gloo_net::http::Response) -> Result<T, String> {
    if res.ok() {
        res.json::<T>().await.map_err(|e| e.to_string())
    } else {
        let status = res.status();
        Err(match res.json::<sse_protocol::ErrorBody>().await {
            Ok(e) => explain(status, &e),
            Err(_) => format!("{status}: request failed"),
        })
    }
}

/// An API error in words for the dashboard: what was refused and why.
pub fn explain(status: u16, e: &sse_protocol::ErrorBody) -> String {
    match (e.code.as_str(), &e.topics) {
        ("topic_forbidden", Some(topics)) => format!(
            "{status}: not allowed on {} (no grant in your token and not public)",
            topics.join(", ")
        ),
        _ => format!("{status}: {}", e.error),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn topic_refusals_name_the_topics() {
        let e = sse_protocol::ErrorBody {
            error: "not allowed on topic(s): secret".into(),
            code: "topic_forbidden".into(),
            topics: Some(vec!["secret".into()]),
        };
        assert!(super::explain(403, &e).contains("not allowed on secret"));
    }
}
