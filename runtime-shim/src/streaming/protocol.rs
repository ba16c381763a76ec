//! Framing of the Kubernetes WebSocket channel protocols: each binary
//! message starts with a channel byte.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Status, StatusCause, StatusDetails};

pub const STDIN: u8 = 0;
pub const STDOUT: u8 = 1;
pub const STDERR: u8 = 2;
pub const ERROR: u8 = 3;
pub const RESIZE: u8 = 4;
/// v5 only: `[255, channel]` closes that channel (stdin).
pub const CLOSE: u8 = 255;

pub const SUPPORTED: [&str; 3] = ["v5.channel.k8s.io", "v4.channel.k8s.io", "channel.k8s.io"];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    V1,
    V4,
    V5,
}

impl Version {
    pub fn from_name(name: &str) -> Self {
        match name {
            "v5.channel.k8s.io" => Version::V5,
            "v4.channel.k8s.io" => Version::V4,
            _ => Version::V1,
        }
    }
}

/// A channel byte followed by the payload.
pub fn frame(channel: u8, data: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(data.len() + 1);
    frame.push(channel);
    frame.extend_from_slice(data);
    frame
}

/// The error-channel payload reporting `exit_code` of `cmd`: a metav1
/// Status from v4 on, plain text (only on failure) before.
pub fn exit_status(version: Version, cmd: &[String], exit_code: i32) -> Option<Vec<u8>> {
    let message = format!(
        "command terminated with non-zero exit code: error executing command {cmd:?}, exit code {exit_code}"
    );
    if version == Version::V1 {
        return (exit_code != 0).then(|| message.into_bytes());
    }
    let status = if exit_code == 0 {
        Status {
            status: Some("Success".to_string()),
            ..Status::default()
        }
    } else {
        Status {
            status: Some("Failure".to_string()),
            message: Some(message),
            reason: Some("NonZeroExitCode".to_string()),
            details: Some(StatusDetails {
                causes: Some(vec![StatusCause {
                    reason: Some("ExitCode".to_string()),
                    message: Some(exit_code.to_string()),
                    field: None,
                }]),
                ..StatusDetails::default()
            }),
            ..Status::default()
        }
    };
    serde_json::to_vec(&status).ok()
}

/// The error-channel payload for a session that could not start.
pub fn failure(version: Version, message: &str) -> Vec<u8> {
    if version == Version::V1 {
        return message.as_bytes().to_vec();
    }
    let status = Status {
        status: Some("Failure".to_string()),
        message: Some(message.to_string()),
        reason: Some("InternalError".to_string()),
        ..Status::default()
    };
    serde_json::to_vec(&status).unwrap_or_default()
}

/// Terminal size sent on the resize channel: `{"Width":80,"Height":24}`.
#[derive(Debug, serde::Deserialize)]
pub struct TerminalSize {
    #[serde(rename = "Width")]
    pub width: u16,
    #[serde(rename = "Height")]
    pub height: u16,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_status_reports_code() {
        let payload = exit_status(Version::V5, &["false".to_string()], 3).expect("status");
        let value: serde_json::Value = serde_json::from_slice(&payload).expect("json");
        assert_eq!(value["status"], "Failure");
        assert_eq!(value["reason"], "NonZeroExitCode");
        assert_eq!(value["details"]["causes"][0]["reason"], "ExitCode");
        assert_eq!(value["details"]["causes"][0]["message"], "3");
        let payload = exit_status(Version::V4, &[], 0).expect("status");
        let value: serde_json::Value = serde_json::from_slice(&payload).expect("json");
        assert_eq!(value["status"], "Success");
        assert!(exit_status(Version::V1, &[], 0).is_none());
    }
}
