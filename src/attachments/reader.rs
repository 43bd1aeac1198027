//! Reading an upload as it arrives: the first bytes for sniffing, then everything through
//! `Metered`, which counts, hashes (SHA-256) and stops at the size limit. The object store
//! reads from `Metered` and never sees more than the limit nor a read error: both simply end
//! the stream, and the caller, asking `Metered` how it ended, deletes what was stored.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt, ReadBuf};

/// Reads up to `max` bytes from the start of `reader`.
pub async fn read_prefix<R: AsyncRead + Unpin>(reader: &mut R, max: usize) -> io::Result<Vec<u8>> {
    let mut prefix = Vec::with_capacity(max.min(64 * 1024));
    reader.take(max as u64).read_to_end(&mut prefix).await?;
    Ok(prefix)
}

/// How a metered read ended.
#[derive(Debug)]
pub enum Ended {
    /// Still reading, or the source ended within the limit.
    Complete,
    /// The source had more than the limit.
    TooLarge,
    /// The source failed (the client went away, a malformed multipart body).
    Failed(io::Error),
}

pub struct Metered<R> {
    inner: R,
    limit: u64,
    count: u64,
    hasher: Sha256,
    ended: Ended,
    done: bool,
}

impl<R: AsyncRead + Unpin> Metered<R> {
    pub fn new(inner: R, limit: u64) -> Self {
        Self { inner, limit, count: 0, hasher: Sha256::new(), ended: Ended::Complete, done: false }
    }

    pub fn ended(&self) -> &Ended {
        &self.ended
    }

    /// The bytes read and their SHA-256 (lowercase hex).
    pub fn finish(self) -> (u64, String) {
        (self.count, format!("{:x}", self.hasher.finalize()))
    }

    fn stop(&mut self, why: Ended) {
        self.ended = why;
        self.done = true;
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for Metered<R> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(Ok(()));
        }
        let start = buf.filled().len();
        // Gather what is ready into one read: the object store publishes one chunk per read,
        // and network frames are much smaller than its chunks.
        while buf.remaining() > 0 {
            let before = buf.filled().len();
            match Pin::new(&mut this.inner).poll_read(cx, buf) {
                Poll::Ready(Ok(())) if buf.filled().len() == before => {
                    this.done = true;
                    break;
                }
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(e)) => {
                    buf.set_filled(start);
                    this.stop(Ended::Failed(e));
                    return Poll::Ready(Ok(()));
                }
                Poll::Pending if buf.filled().len() > start => break,
                Poll::Pending => return Poll::Pending,
            }
        }
        let fresh = &buf.filled()[start..];
        if this.count + fresh.len() as u64 > this.limit {
            buf.set_filled(start);
            this.stop(Ended::TooLarge);
            return Poll::Ready(Ok(()));
        }
        this.count += fresh.len() as u64;
        this.hasher.update(fresh);
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn drain<R: AsyncRead + Unpin>(metered: &mut Metered<R>) -> Vec<u8> {
        let mut out = Vec::new();
        metered.read_to_end(&mut out).await.expect("a metered read never fails");
        out
    }

    #[tokio::test]
    async fn a_source_within_the_limit_is_read_whole_and_hashed() {
        let mut metered = Metered::new(&b"abc"[..], 3);
        assert_eq!(drain(&mut metered).await, b"abc");
        assert!(matches!(metered.ended(), Ended::Complete));
        let (size, sha256) = metered.finish();
        assert_eq!(size, 3);
        assert_eq!(sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[tokio::test]
    async fn a_source_over_the_limit_ends_early_and_says_so() {
        let data = vec![7u8; 10_000];
        let mut metered = Metered::new(&data[..], 9_999);
        assert!(drain(&mut metered).await.len() <= 9_999);
        assert!(matches!(metered.ended(), Ended::TooLarge));
    }

    #[tokio::test]
    async fn a_failing_source_ends_the_stream_instead_of_failing_it() {
        let failing = tokio_test_reader();
        let mut metered = Metered::new(failing, 1_000);
        drain(&mut metered).await;
        assert!(matches!(metered.ended(), Ended::Failed(_)));
    }

    /// Two good bytes, then an error, as a client that goes away mid-upload.
    fn tokio_test_reader() -> impl AsyncRead + Unpin {
        let chunks: Vec<io::Result<bytes::Bytes>> =
            vec![Ok(bytes::Bytes::from_static(b"ok")), Err(io::Error::other("connection reset"))];
        tokio_util::io::StreamReader::new(futures::stream::iter(chunks))
    }
}
