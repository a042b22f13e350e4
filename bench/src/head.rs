//! Reading an HTTP/1 response head off a socket, plain or TLS.

use anyhow::bail;
use tokio::io::{AsyncRead, AsyncReadExt};

/// Reads a status line and headers, a byte at a time (nothing after them
/// is consumed).
pub async fn read_head<S: AsyncRead + Unpin>(stream: &mut S) -> anyhow::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(512);
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).await? == 0 {
            bail!("closed before the headers");
        }
        head.push(byte[0]);
        if head.len() > 8192 {
            bail!("headers too long");
        }
    }
    Ok(head)
}
