//! Small JSON-over-HTTP helpers the dashboard uses to talk to the hub API.
//! Browser-only; on the server they answer with an error.

use serde::de::DeserializeOwned;
use serde::Serialize;

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
            .map_err(|e| e.to_string())?;
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
        let res = req.send().await.map_err(|e| e.to_string())?;
        decode(res).await
    }
    #[cfg(feature = "ssr")]
    {
        let _ = (path, token);
        Err("not available during server rendering".into())
    }
}

#[cfg(not(feature = "ssr"))]
async fn decode<T: DeserializeOwned>(res: gloo_net::http::Response) -> Result<T, String> {
    if res.ok() {
        res.json::<T>().await.map_err(|e| e.to_string())
    } else {
        let status = res.status();
        let msg = res
            .json::<serde_json::Value>()
            .await
            .ok()
            .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_string))
            .unwrap_or_else(|| "request failed".into());
        Err(format!("{status}: {msg}"))
    }
}
