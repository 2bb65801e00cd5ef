//! Sending: SES v2 for email, SNS for text messages. Errors are sorted into what to do next:
//! retry later (throttling, a 5xx, a timeout) or give up on this channel (a rejected address,
//! an invalid number, a suppressed recipient).

use aws_sdk_sesv2::error::ProvideErrorMetadata;
use aws_sdk_sesv2::primitives::Blob;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message as SesMessage, MessageHeader, MessageTag, RawMessage};
use aws_sdk_sns::types::MessageAttributeValue;

use super::templates::Message;
use crate::domain::{Email, PhoneE164};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The provider answered that it did not take the message (throttling, a 5xx): try again.
    #[error("temporary failure: {0}")]
    Retryable(String),
    #[error("refused: {0}")]
    Permanent(String),
    /// No answer (a timeout, a broken response): the message may have gone. Not retried, so
    /// that nobody gets it twice.
    #[error("outcome unknown: {0}")]
    Unknown(String),
}

/// Where emails come from and how text messages are signed.
#[derive(Debug, Clone)]
pub struct SenderSettings {
    pub from: String,
    pub configuration_set: Option<String>,
    pub sms_sender_id: Option<String>,
}

/// A file sent with an email.
#[derive(Debug, Clone, Copy)]
pub struct Attachment<'a> {
    pub file_name: &'a str,
    pub content_type: &'a str,
    pub bytes: &'a [u8],
}

#[derive(Clone, Debug)]
pub struct Senders {
    ses: aws_sdk_sesv2::Client,
    sns: aws_sdk_sns::Client,
    settings: SenderSettings,
}

/// Error codes that mean "this address or number will not take it": trying again is useless.
const PERMANENT: [&str; 7] = [
    "MessageRejected",
    "MailFromDomainNotVerifiedException",
    "NotFoundException",
    "BadRequestException",
    "InvalidParameter",
    "InvalidParameterValue",
    "OptedOut",
];

fn classify<E: ProvideErrorMetadata + std::error::Error + 'static, R: std::fmt::Debug>(
    err: aws_sdk_sesv2::error::SdkError<E, R>,
) -> SendError {
    use aws_sdk_sesv2::error::SdkError;
    let text: String = aws_sdk_sesv2::error::DisplayErrorContext(&err).to_string().chars().take(200).collect();
    match &err {
        // The request was never built or never left: nothing was sent.
        SdkError::ConstructionFailure(_) => SendError::Permanent(text),
        SdkError::DispatchFailure(failure) if failure.is_io() => SendError::Retryable(text),
        SdkError::ServiceError(_) => match err.code() {
            Some(code) if PERMANENT.contains(&code) => SendError::Permanent(code.to_string()),
            Some(code) => SendError::Retryable(code.to_string()),
            None => SendError::Unknown(text),
        },
        // Timeouts and unreadable answers: the provider may have taken it.
        _ => SendError::Unknown(text),
    }
}

impl Senders {
    pub fn new(sdk: &aws_config::SdkConfig, settings: SenderSettings) -> Senders {
        Senders::from_clients(aws_sdk_sesv2::Client::new(sdk), aws_sdk_sns::Client::new(sdk), settings)
    }

    /// Senders over clients configured by the caller (tests put a fault-injecting proxy here).
    pub fn from_clients(ses: aws_sdk_sesv2::Client, sns: aws_sdk_sns::Client, settings: SenderSettings) -> Senders {
        Senders { ses, sns, settings }
    }

    /// Sends an email with HTML and text parts; returns SES's message id.
    pub async fn email(
        &self,
        to: &Email,
        message: &Message,
        tags: &[(&str, String)],
        unsubscribe: Option<&str>,
    ) -> Result<String, SendError> {
        let content = |data: &str| Content::builder().data(data).charset("UTF-8").build().map_err(|e| SendError::Permanent(e.to_string()));
        let mut simple = SesMessage::builder()
            .subject(content(&message.subject)?)
            .body(Body::builder().html(content(&message.html)?).text(content(&message.text)?).build());
        if let Some(link) = unsubscribe {
            // One-click unsubscribe (RFC 8058) for messages that are not about money owed.
            let header = |name: &str, value: &str| {
                MessageHeader::builder().name(name).value(value).build().map_err(|e| SendError::Permanent(e.to_string()))
            };
            simple = simple
                .headers(header("List-Unsubscribe", &format!("<{link}>"))?)
                .headers(header("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")?);
        }
        self.send_email(to, EmailContent::builder().simple(simple.build()).build(), tags).await
    }

    /// Sends an email with HTML and text parts and a file attached (the formal notice): a
    /// MIME message SES sends as it is.
    pub async fn email_with_attachment(
        &self,
        to: &Email,
        message: &Message,
        tags: &[(&str, String)],
        attachment: &Attachment<'_>,
    ) -> Result<String, SendError> {
        let from = self.settings.from.trim();
        // `Les Potagers <relance@example.org>` or a bare address.
        let builder = match from.rsplit_once('<') {
            Some((name, address)) if !name.trim().is_empty() => {
                mail_builder::MessageBuilder::new().from((name.trim().trim_matches('"'), address.trim_end_matches('>').trim()))
            }
            Some((_, address)) => mail_builder::MessageBuilder::new().from(address.trim_end_matches('>').trim()),
            None => mail_builder::MessageBuilder::new().from(from),
        };
        let raw = builder
            .to(to.as_str())
            .subject(message.subject.as_str())
            .text_body(message.text.as_str())
            .html_body(message.html.as_str())
            .attachment(attachment.content_type, attachment.file_name, attachment.bytes)
            .write_to_vec()
            .map_err(|e| SendError::Permanent(format!("the message did not build: {e}")))?;
        let raw = RawMessage::builder().data(Blob::new(raw)).build().map_err(|e| SendError::Permanent(e.to_string()))?;
        self.send_email(to, EmailContent::builder().raw(raw).build(), tags).await
    }

    async fn send_email(&self, to: &Email, content: EmailContent, tags: &[(&str, String)]) -> Result<String, SendError> {
        let mut request = self
            .ses
            .send_email()
            .from_email_address(&self.settings.from)
            .destination(Destination::builder().to_addresses(to.as_str()).build())
            .content(content)
            .set_configuration_set_name(self.settings.configuration_set.clone());
        for (name, value) in tags {
            let tag = MessageTag::builder().name(*name).value(value).build().map_err(|e| SendError::Permanent(e.to_string()))?;
            request = request.email_tags(tag);
        }
        let output = request.send().await.map_err(classify)?;
        Ok(output.message_id().unwrap_or_default().to_string())
    }

    /// Sends a transactional text message; returns SNS's message id.
    pub async fn sms(&self, to: &PhoneE164, text: &str) -> Result<String, SendError> {
        let attribute = |value: &str| MessageAttributeValue::builder().data_type("String").string_value(value).build();
        let mut request = self
            .sns
            .publish()
            .phone_number(to.as_str())
            .message(text)
            .message_attributes("AWS.SNS.SMS.SMSType", attribute("Transactional").map_err(|e| SendError::Permanent(e.to_string()))?);
        if let Some(sender) = &self.settings.sms_sender_id {
            request =
                request.message_attributes("AWS.SNS.SMS.SenderID", attribute(sender).map_err(|e| SendError::Permanent(e.to_string()))?);
        }
        let output = request.send().await.map_err(classify)?;
        Ok(output.message_id().unwrap_or_default().to_string())
    }
}
