//! A fault-injecting proxy between the SDK and moto, at the connection level: it reads each
//! HTTP/1.1 request, and for DynamoDB calls (`X-Amz-Target: DynamoDB_20120810.*`) picks, with
//! a seeded generator, to pass it on or to inject one fault:
//!
//! - `Drop`: the connection is closed before the request reaches moto (nothing applied);
//! - `Delay`: passed on after a pause;
//! - `ServerError`: a 500 `InternalServerError` (nothing applied);
//! - `Throughput` / `Throttling`: `ProvisionedThroughputExceededException` /
//!   `ThrottlingException` (nothing applied);
//! - `ResetMidResponse`: passed on (moto applies it), then half the answer is written and the
//!   connection closed: the caller cannot know whether its write happened.
//!
//! Other calls (SES, SNS, moto's own API) pass untouched.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fault {
    Drop,
    Delay,
    ServerError,
    Throughput,
    Throttling,
    ResetMidResponse,
}

impl Fault {
    pub const ALL: [Fault; 6] =
        [Fault::Drop, Fault::Delay, Fault::ServerError, Fault::Throughput, Fault::Throttling, Fault::ResetMidResponse];
}

/// What the proxy did, by fault, and how many DynamoDB calls it saw.
#[derive(Debug, Default, Clone)]
pub struct FaultLog {
    pub calls: usize,
    pub injected: BTreeMap<String, usize>,
    /// By fault and the operation it hit: `ResetMidResponse TransactWriteItems`.
    pub injected_into: BTreeMap<String, usize>,
}

pub struct FaultProxy {
    pub url: String,
    log: Arc<Mutex<FaultLog>>,
}

impl FaultProxy {
    /// Starts a proxy to `upstream` (`http://127.0.0.1:PORT`) injecting a fault into one
    /// DynamoDB call in `one_in`, chosen from `faults` by a generator seeded with `seed`.
    pub async fn start(upstream: &str, one_in: u64, faults: &[Fault], seed: u64) -> FaultProxy {
        assert!(one_in >= 1, "one call in `one_in`: at least 1");
        let upstream = upstream.trim_start_matches("http://").trim_end_matches('/').to_string();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let log = Arc::new(Mutex::new(FaultLog::default()));
        let state = Arc::new(Mutex::new(seed.max(1)));
        let faults = faults.to_vec();
        let shared_log = log.clone();
        tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else { return };
                let (upstream, faults, state, log) = (upstream.clone(), faults.clone(), state.clone(), shared_log.clone());
                tokio::spawn(async move {
                    let _ = serve(client, &upstream, one_in, &faults, &state, &log).await;
                });
            }
        });
        FaultProxy { url, log }
    }

    pub fn log(&self) -> FaultLog {
        self.log.lock().unwrap().clone()
    }

    /// The store over `table` whose DynamoDB calls go through this proxy.
    pub async fn store(&self, table: &str) -> relance::store::Store {
        let sdk = crate::sdk().await;
        let client = aws_sdk_dynamodb::Client::from_conf(aws_sdk_dynamodb::config::Builder::from(&sdk).endpoint_url(&self.url).build());
        relance::store::Store::new(client, table)
    }
}

/// xorshift64: reproducible for a seed, no dependency. `state` must not be 0.
pub fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// Shuffles `items` the same way for the same seed (Fisher–Yates over [`xorshift`]).
pub fn shuffle<T>(items: &mut [T], seed: u64) {
    let mut state = seed.max(1);
    for i in (1..items.len()).rev() {
        items.swap(i, (xorshift(&mut state) % (i as u64 + 1)) as usize);
    }
}

fn next(state: &Mutex<u64>) -> u64 {
    xorshift(&mut state.lock().unwrap())
}

/// One request from `client`: head and body, or None when the client closed.
pub(crate) async fn read_request(client: &mut TcpStream, buffer: &mut Vec<u8>) -> std::io::Result<Option<(String, Vec<u8>)>> {
    loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buffer[..end + 4]).into_owned();
            let length = head
                .lines()
                .find_map(|l| {
                    l.split_once(':')
                        .filter(|(n, _)| n.eq_ignore_ascii_case("content-length"))
                        .map(|(_, v)| v.trim().parse::<usize>().unwrap_or(0))
                })
                .unwrap_or(0);
            while buffer.len() < end + 4 + length {
                let mut chunk = [0u8; 16 * 1024];
                let n = client.read(&mut chunk).await?;
                if n == 0 {
                    return Ok(None);
                }
                buffer.extend_from_slice(&chunk[..n]);
            }
            let body = buffer[end + 4..end + 4 + length].to_vec();
            buffer.drain(..end + 4 + length);
            return Ok(Some((head, body)));
        }
        let mut chunk = [0u8; 16 * 1024];
        let n = client.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
}

/// The request passed to moto on a connection of its own; moto's whole answer.
pub(crate) async fn forward(upstream: &str, head: &str, body: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut lines: Vec<&str> = head.trim_end().split("\r\n").filter(|l| !l.to_ascii_lowercase().starts_with("connection:")).collect();
    lines.push("Connection: close");
    let mut request = lines.join("\r\n").into_bytes();
    request.extend_from_slice(b"\r\n\r\n");
    request.extend_from_slice(body);
    let mut moto = TcpStream::connect(upstream).await?;
    moto.write_all(&request).await?;
    let mut answer = Vec::new();
    moto.read_to_end(&mut answer).await?;
    Ok(answer)
}

fn error(status: &str, kind: &str) -> Vec<u8> {
    let body = format!("{{\"__type\":\"{kind}\",\"message\":\"injected by the fault proxy\"}}");
    format!("HTTP/1.1 {status}\r\nContent-Type: application/x-amz-json-1.0\r\nContent-Length: {}\r\n\r\n{body}", body.len()).into_bytes()
}

async fn serve(
    mut client: TcpStream,
    upstream: &str,
    one_in: u64,
    faults: &[Fault],
    state: &Mutex<u64>,
    log: &Mutex<FaultLog>,
) -> std::io::Result<()> {
    let mut buffer = Vec::new();
    while let Some((head, body)) = read_request(&mut client, &mut buffer).await? {
        let dynamodb = head.to_ascii_lowercase().contains("x-amz-target: dynamodb_20120810.");
        let fault = if dynamodb && !faults.is_empty() {
            let roll = next(state);
            log.lock().unwrap().calls += 1;
            roll.is_multiple_of(one_in).then(|| faults[(roll / one_in) as usize % faults.len()])
        } else {
            None
        };
        if let Some(fault) = fault {
            let operation = head
                .lines()
                .find_map(|l| l.split_once(':').filter(|(n, _)| n.eq_ignore_ascii_case("x-amz-target")).map(|(_, v)| v.trim()))
                .and_then(|target| target.split('.').nth(1))
                .unwrap_or("?")
                .to_string();
            let mut log = log.lock().unwrap();
            *log.injected.entry(format!("{fault:?}")).or_default() += 1;
            *log.injected_into.entry(format!("{fault:?} {operation}")).or_default() += 1;
        }
        match fault {
            None => client.write_all(&forward(upstream, &head, &body).await?).await?,
            Some(Fault::Drop) => return Ok(()),
            Some(Fault::Delay) => {
                tokio::time::sleep(std::time::Duration::from_millis(700)).await;
                client.write_all(&forward(upstream, &head, &body).await?).await?;
            }
            Some(Fault::ServerError) => {
                client.write_all(&error("500 Internal Server Error", "com.amazonaws.dynamodb.v20120810#InternalServerError")).await?
            }
            Some(Fault::Throughput) => {
                client
                    .write_all(&error("400 Bad Request", "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException"))
                    .await?
            }
            Some(Fault::Throttling) => {
                client.write_all(&error("400 Bad Request", "com.amazon.coral.availability#ThrottlingException")).await?
            }
            Some(Fault::ResetMidResponse) => {
                let answer = forward(upstream, &head, &body).await?;
                client.write_all(&answer[..answer.len() / 2]).await?;
                // Close with a reset rather than a clean end of stream. (SO_LINGER is deprecated
                // in tokio because a non-zero linger blocks the thread on drop; zero does not.)
                #[allow(deprecated)]
                let _ = client.set_linger(Some(std::time::Duration::ZERO));
                return Ok(());
            }
        }
    }
    Ok(())
}
