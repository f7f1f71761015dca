//! The request bodies of the three webhook formats, each built from the [`RunSummary`] only.
//!
//! Every body carries the checkpoint note verbatim, in an element that shows text as it is
//! (no markdown, no escaping beyond JSON's), so what a channel keeps is the signed note itself.

use serde::Serialize;
use serde_json::{Value, json};

use super::Format;
use super::summary::RunSummary;

/// The `schema` of the `json` format's body; bumped when a field changes meaning or goes.
pub const SUMMARY_SCHEMA: &str = "recaudit.run-summary/1";

/// Slack refuses a section's text over 3,000 characters and a header's over 150
/// (<https://docs.slack.dev/reference/block-kit/blocks/section-block>,
/// <https://docs.slack.dev/reference/block-kit/blocks/header-block>); the message line of an
/// error can be long, so texts are cut at a character boundary below those limits.
const SLACK_SECTION_MAX: usize = 2900;
const SLACK_HEADER_MAX: usize = 150;

#[derive(Serialize)]
struct JsonBody<'a> {
    schema: &'static str,
    #[serde(flatten)]
    summary: &'a RunSummary,
}

/// The body of a webhook of `format`.
pub(crate) fn body(format: Format, summary: &RunSummary) -> Value {
    match format {
        Format::Json => json_body(summary),
        Format::Slack => slack(summary),
        Format::Teams => teams(summary),
    }
}

fn json_body(summary: &RunSummary) -> Value {
    // A struct of strings, numbers, maps and options: serializing it cannot fail, and if it
    // ever did the receiver still gets the title rather than nothing.
    serde_json::to_value(JsonBody {
        schema: SUMMARY_SCHEMA,
        summary,
    })
    .unwrap_or_else(
        |e| json!({ "schema": SUMMARY_SCHEMA, "text": summary.title(), "error": e.to_string() }),
    )
}

fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// Slack's incoming-webhook message: `text` (the notification's fallback) and Block Kit
/// `blocks` (<https://docs.slack.dev/messaging/sending-messages-using-incoming-webhooks>): a
/// header, the facts as one mrkdwn section, and the checkpoint in a `rich_text_preformatted`
/// element, whose text is shown as sent (no mrkdwn parsing, so no `&lt;` escapes in the note;
/// <https://docs.slack.dev/reference/block-kit/blocks/rich-text-block>).
fn slack(summary: &RunSummary) -> Value {
    let facts = summary
        .facts()
        .into_iter()
        .map(|(name, value)| format!("*{name}:* {}", slack_escape(&value)))
        .collect::<Vec<_>>()
        .join("\n");
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": cut(&summary.title(), SLACK_HEADER_MAX)}}),
        json!({"type": "section", "text": {"type": "mrkdwn", "text": cut(&facts, SLACK_SECTION_MAX)}}),
    ];
    if let Some(checkpoint) = &summary.checkpoint {
        blocks.push(json!({"type": "rich_text", "elements": [
            {"type": "rich_text_section", "elements": [{"type": "text", "text": "Signed checkpoint\n", "style": {"bold": true}}]},
            {"type": "rich_text_preformatted", "elements": [{"type": "text", "text": checkpoint.note}]}
        ]}));
    }
    json!({ "text": summary.title(), "blocks": blocks })
}

/// mrkdwn's three control characters (<https://docs.slack.dev/messaging/formatting-message-text>).
fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Microsoft Teams: a message with one Adaptive Card attachment, the shape Teams documents for
/// incoming webhooks ("Send Adaptive Cards using an Incoming Webhook": `"type": "message"`,
/// `attachments[].contentType` `application/vnd.microsoft.card.adaptive`, the card in
/// `content`; <https://learn.microsoft.com/microsoftteams/platform/webhooks-and-connectors/how-to/connectors-using>).
/// The Workflows app's "When a Teams webhook request is received" trigger, which replaces the
/// retired Office 365 connectors, takes the same body and supports Adaptive Cards only (same
/// page, "Known issues"). Card version 1.4; the checkpoint is a `RichTextBlock` of one
/// monospace `TextRun`, whose text is not markdown (Adaptive Cards schema, TextRun,
/// <https://learn.microsoft.com/adaptive-cards/schema-explorer/text-run>).
fn teams(summary: &RunSummary) -> Value {
    let facts: Vec<Value> = summary
        .facts()
        .into_iter()
        .map(|(name, value)| json!({"title": name, "value": value}))
        .collect();
    let color = match summary.outcome {
        super::Outcome::Ok => "Good",
        super::Outcome::Exceptions => "Warning",
        _ => "Attention",
    };
    let mut body = vec![
        json!({"type": "TextBlock", "text": summary.title(), "size": "Large", "weight": "Bolder", "color": color, "wrap": true}),
        json!({"type": "FactSet", "facts": facts}),
    ];
    if let Some(checkpoint) = &summary.checkpoint {
        body.push(json!({"type": "TextBlock", "text": "Signed checkpoint", "weight": "Bolder", "wrap": true}));
        body.push(json!({"type": "RichTextBlock", "inlines": [
            {"type": "TextRun", "text": checkpoint.note, "fontType": "Monospace"}
        ]}));
    }
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "msteams": {"width": "Full"},
                "body": body
            }
        }]
    })
}
