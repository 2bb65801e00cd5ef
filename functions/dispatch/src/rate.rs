//! SES's sending rate, kept by the one dispatcher that runs at a time (the template holds
//! dispatch to one concurrent invocation) from one stream batch to the next.

use std::time::Duration;

/// SES's sending rate, kept by the sender: at most `per_second` emails in any one second.
///
/// Two rules. Emails start `1/per_second` apart, and the time a send takes counts toward the
/// gap, so a batch runs at the rate rather than below it. And an email starts only once the
/// one sent `per_second` emails earlier finished more than a second ago: SES receives and
/// stamps each email between the start and the end of its call, so however the calls' times
/// vary, no one-second window holds more than `per_second` of them (spacing starts alone let
/// a slow send and a quick one land together: 15 in a second at 14 per second, measured).
#[derive(Debug, Default)]
pub struct SendRate {
    last_start: Option<tokio::time::Instant>,
    /// When each of the last `per_second` emails' calls returned, oldest first.
    finished: std::collections::VecDeque<tokio::time::Instant>,
}

impl SendRate {
    /// Waits until an email may start; returns the start, for [`SendRate::sent`].
    pub(crate) async fn wait(&self, per_second: u32) -> tokio::time::Instant {
        let mut at = self.last_start.map(|start| start + Duration::from_secs_f64(1.0 / f64::from(per_second)));
        if self.finished.len() >= per_second as usize
            && let Some(oldest) = self.finished.iter().rev().nth(per_second as usize - 1)
        {
            let free = *oldest + Duration::from_secs(1);
            at = Some(at.map_or(free, |a| a.max(free)));
        }
        if let Some(at) = at {
            tokio::time::sleep_until(at).await;
        }
        tokio::time::Instant::now()
    }

    /// Records an email that started at `began` and whose call has just returned.
    pub(crate) fn sent(&mut self, began: tokio::time::Instant, per_second: u32) {
        self.last_start = Some(began);
        self.finished.push_back(tokio::time::Instant::now());
        while self.finished.len() > per_second as usize {
            self.finished.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 3 per second allowed. With calls of very different lengths (0 to 0.9 s), no one-second
    /// window holds more than 3 calls' ends (the latest SES can have received each email); with
    /// calls as long as SES's usually are (up to 150 ms), the batch also runs at about the rate.
    #[tokio::test(start_paused = true)]
    async fn no_second_holds_more_emails_than_the_rate() {
        for (longest_ms, max_seconds) in [(900u64, f64::MAX), (150, 10.8)] {
            let mut rate = SendRate::default();
            let started = tokio::time::Instant::now();
            let mut ended = Vec::new();
            for i in 0..30u64 {
                let began = rate.wait(3).await;
                tokio::time::sleep(Duration::from_millis((i * 337) % longest_ms)).await;
                rate.sent(began, 3);
                ended.push(tokio::time::Instant::now());
            }
            for (i, at) in ended.iter().enumerate() {
                let in_window = ended[i..].iter().take_while(|t| **t < *at + Duration::from_secs(1)).count();
                assert!(in_window <= 3, "{in_window} emails within a second of email {i} (calls up to {longest_ms} ms)");
            }
            let seconds = started.elapsed().as_secs_f64();
            assert!(seconds < max_seconds, "30 emails at 3/s took {seconds} s with calls up to {longest_ms} ms");
        }
    }
}
