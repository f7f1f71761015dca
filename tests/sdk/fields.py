#!/usr/bin/env python3
"""Every field recaudit reads exists in the SDK model it claims to mirror.

Reads src/source/model.rs, where each wire struct mirrors one or more models of the official
Genesys Cloud Python SDK (purecloudplatformclientv2), and checks that the JSON name of every
field (its camelCase form, as serde's `rename_all = "camelCase"` gives it) is an `attribute_map`
value of each of those models. Also checks the enum values the rules compare against
(`allowed_values` in the SDK setters). A field or value the platform does not have would be a
rule resting on nothing.

Usage: python3 tests/sdk/fields.py [path/to/model.rs]
Exits 0 when every name and value exists; prints one line per struct.
"""

import inspect
import re
import sys

import PureCloudPlatformClientV2.models as models

# Rust wire struct -> the SDK models whose JSON it reads. `ExportMetadataWire` is the S3 export
# sidecar, which is no SDK model (docs/RULES.md cites the help article instead).
MIRRORS = {
    "AnalyticsConversation": ["AnalyticsConversation", "AnalyticsConversationWithoutAttributes"],
    "AnalyticsParticipant": ["AnalyticsParticipant"],
    "AnalyticsSession": ["AnalyticsSession"],
    "AnalyticsSegment": ["AnalyticsConversationSegment"],
    # The async job page has `cursor`, the sync query response does not (the field is then
    # absent, which the struct allows): each field must be in one of them.
    "ConversationPage": ["AnalyticsConversationQueryResponse|AnalyticsConversationAsyncQueryResponse"],
    "MediaEndpointStatWire": ["AnalyticsMediaEndpointStat"],
    "DataAvailabilityWire": ["DataAvailabilityResponse"],
    "RecordingWire": ["Recording"],
    "AnnotationWire": ["Annotation"],
    "RecordingJobWire": ["RecordingJob"],
    "RecordingJobsQueryWire": ["RecordingJobsQuery"],
    "EntityRef": ["AddressableEntityRef"],
    "FailedRecordingWire": ["RecordingJobFailedRecording"],
    "Listing": ["FailedRecordingEntityListing", "OrphanRecordingListing", "RecordingJobEntityListing"],
    "OrphanRecordingWire": ["OrphanRecording"],
}
# Fields of `RecordingWire` that `RecordingMetadata` must have too (the same struct reads both;
# the others are the `Recording`-only media fields).
RECORDING_ONLY = {"mediaUris", "outputDurationMs", "outputSizeInBytes", "creationTime", "recordingFileRole"}
NOT_MIRRORED = {"ExportMetadataWire"}

# (model, attribute, values the rules compare against)
ENUMS = [
    ("Recording", "file_state", ["ARCHIVED", "AVAILABLE", "DELETED", "RESTORED", "RESTORING", "UPLOADING", "ERROR"]),
    ("RecordingMetadata", "file_state", ["ARCHIVED", "AVAILABLE", "DELETED", "RESTORED", "RESTORING", "UPLOADING", "ERROR"]),
    ("Recording", "media_subtype", ["Snippet"]),
    ("RecordingMetadata", "media_subtype", ["Snippet"]),
    ("Recording", "recording_file_role", ["CUSTOMER_EXPERIENCE", "ADHOC"]),
    ("Annotation", "reason", ["Hold", "SecurePause", "FlowOrQueue", "Pause"]),
    ("AnalyticsParticipant", "purpose", ["agent", "user", "customer", "external", "station", "acd", "ivr",
                                         "workflow", "botflow", "voicemail", "voicesurveyflow", "group"]),
    ("AnalyticsConversationSegment", "segment_type", ["alert", "dialing", "contacting", "interact", "wrapup"]),
    ("AnalyticsConversationSegment", "disconnect_type", ["transportFailure", "error", "system", "timeout", "sessionExpired"]),
    ("AnalyticsSession", "media_type", ["voice", "chat", "message", "email", "callback"]),
]


def camel(snake):
    head, *rest = snake.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def rust_structs(text):
    """{struct name: [json field names]} for the serde structs of model.rs."""
    structs = {}
    # Any visibility: `pub`, `pub(crate)`, `pub(super)` (the mirrors are `pub(crate)`).
    for match in re.finditer(r"pub(?:\([^)]*\))? struct (\w+)(?:<[^>]*>)?\s*\{(.*?)\n\}", text, re.S):
        name, body = match.group(1), match.group(2)
        fields = []
        for field in re.finditer(r"(?:#\[serde\(([^)]*)\)\]\s*)?pub(?:\([^)]*\))? (\w+):", body):
            attrs, rust_name = field.group(1) or "", field.group(2)
            renamed = re.search(r'rename = "([^"]+)"', attrs)
            fields.append(renamed.group(1) if renamed else camel(rust_name))
        structs[name] = fields
    return structs


def attribute_names(model):
    cls = getattr(models, model)
    return set(cls().attribute_map.values())


def allowed_values(model, attribute):
    source = inspect.getsource(getattr(getattr(models, model), attribute).fset)
    found = re.search(r"allowed_values = (\[.*?\])", source)
    return set(eval(found.group(1))) if found else None  # noqa: S307 (the SDK's own literal)


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "src/source/model.rs"
    structs = rust_structs(open(path, encoding="utf-8").read())
    failures = 0
    if not structs:
        print("FAIL %s: no wire struct found (has the visibility of the mirrors changed?)" % path)
        failures += 1
    for name, fields in sorted(structs.items()):
        if name in NOT_MIRRORED:
            print("SKIP %s: not an SDK model (the S3 export sidecar)" % name)
            continue
        mirrors = MIRRORS.get(name)
        if mirrors is None:
            print("FAIL %s: add it to MIRRORS in tests/sdk/fields.py with the SDK model it mirrors" % name)
            failures += 1
            continue
        for model in mirrors:
            known = set().union(*(attribute_names(m) for m in model.split("|")))
            missing = [f for f in fields if f not in known]
            if missing:
                print("FAIL %s: %s has no %s" % (name, model, ", ".join(missing)))
                failures += 1
            else:
                print("OK   %s: %d fields in %s" % (name, len(fields), model))
        if name == "RecordingWire":
            shared = [f for f in fields if f not in RECORDING_ONLY and f not in attribute_names("RecordingMetadata")]
            if shared:
                print("FAIL RecordingWire: RecordingMetadata has no %s" % ", ".join(shared))
                failures += 1
            else:
                print("OK   RecordingWire: shared fields in RecordingMetadata")
    for model, attribute, values in ENUMS:
        allowed = allowed_values(model, attribute)
        if allowed is None:
            print("FAIL %s.%s has no allowed_values" % (model, attribute))
            failures += 1
            continue
        unknown = [v for v in values if v not in allowed]
        if unknown:
            print("FAIL %s.%s does not allow %s" % (model, attribute, ", ".join(unknown)))
            failures += 1
        else:
            print("OK   %s.%s allows %s" % (model, attribute, ", ".join(values)))
    print("SDK fields: %s" % ("OK" if failures == 0 else "%d FAILED" % failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
