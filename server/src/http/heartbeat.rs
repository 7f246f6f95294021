//! When a WebSocket connection pings and when it gives up, as a value with
//! no clock of its own: the connection loop (`ws`) tells it when it sent and
//! heard, sleeps until `deadline()`, and asks what is `due`. Tested with
//! made-up instants below, so no test waits for real time to pass.

use std::time::Duration;
use tokio::time::Instant;

#[derive(Debug, Clone, Copy)]
pub struct Heartbeat {
    ping_interval: Duration,
    idle_timeout: Duration,
    last_sent: Instant,
    last_heard: Instant,
}

/// What the deadline brings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    /// Not yet (woken early).
    Nothing,
    /// The server has been silent `ping_interval`: send a `sync:ping`.
    Ping,
    /// The client has been silent `idle_timeout`: close the connection.
    Close,
}

impl Heartbeat {
    pub fn new(now: Instant, ping_interval: Duration, idle_timeout: Duration) -> Self {
        Heartbeat {
            ping_interval,
            idle_timeout,
            last_sent: now,
            last_heard: now,
        }
    }

    pub fn sent(&mut self, now: Instant) {
        self.last_sent = now;
    }

    pub fn heard(&mut self, now: Instant) {
        self.last_heard = now;
    }

    /// The next moment something may be due.
    pub fn deadline(&self) -> Instant {
        (self.last_sent + self.ping_interval).min(self.last_heard + self.idle_timeout)
    }

    pub fn due(&self, now: Instant) -> Due {
        if now >= self.last_heard + self.idle_timeout {
            Due::Close
        } else if now >= self.last_sent + self.ping_interval {
            Due::Ping
        } else {
            Due::Nothing
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PING: Duration = Duration::from_secs(25);
    const IDLE: Duration = Duration::from_secs(120);

    fn at(t0: Instant, secs: u64) -> Instant {
        t0 + Duration::from_secs(secs)
    }

    #[test]
    fn pings_after_server_silence_and_closes_after_client_silence() {
        let t0 = Instant::now();
        let mut hb = Heartbeat::new(t0, PING, IDLE);
        assert_eq!(hb.deadline(), at(t0, 25));
        assert_eq!(hb.due(at(t0, 24)), Due::Nothing, "woken early: nothing");
        assert_eq!(hb.due(at(t0, 25)), Due::Ping);
        // every ping counts as sending; a client that never speaks is closed at 120 s
        let mut now = at(t0, 25);
        let mut pings = 1;
        loop {
            hb.sent(now);
            now = hb.deadline();
            match hb.due(now) {
                Due::Ping => pings += 1,
                Due::Close => break,
                Due::Nothing => panic!("the deadline always brings something"),
            }
        }
        assert_eq!((now, pings), (at(t0, 120), 4));
    }

    #[test]
    fn events_sent_put_off_the_ping_and_a_word_from_the_client_the_close() {
        let t0 = Instant::now();
        let mut hb = Heartbeat::new(t0, PING, IDLE);
        hb.sent(at(t0, 20));
        assert_eq!(
            hb.due(at(t0, 25)),
            Due::Nothing,
            "an event went out at 20 s"
        );
        assert_eq!(hb.deadline(), at(t0, 45));
        hb.heard(at(t0, 110));
        hb.sent(at(t0, 119));
        assert_eq!(
            hb.due(at(t0, 121)),
            Due::Nothing,
            "heard at 110 s: not idle"
        );
        assert_eq!(hb.deadline(), at(t0, 144));
        assert_eq!(hb.due(at(t0, 230)), Due::Close);
    }
}
