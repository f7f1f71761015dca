#!/usr/bin/env python3
"""SDK conformance: the official Genesys Cloud Python SDK (PyPI purecloudplatformclientv2) calls
the same operations recaudit uses against the recaudit simulator, and every response must
deserialize into the SDK's models without error and without any enum value the SDK does not
know (the SDK then stores "outdated_sdk_version" instead of failing, so this script looks).

Usage: python3 tests/sdk/conformance.py http://127.0.0.1:PORT [CLIENT_ID CLIENT_SECRET]
Exits 0 when every operation conforms; prints one line per operation.
"""

import datetime
import sys

import PureCloudPlatformClientV2 as gc
from PureCloudPlatformClientV2.rest import ApiException

UNKNOWN = "outdated_sdk_version"


def unknown_values(value, path="$"):
    """Paths of values the SDK could not map onto its enums."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from unknown_values(item, "%s.%s" % (path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from unknown_values(item, "%s[%d]" % (path, index))
    elif value == UNKNOWN:
        yield path


def check(name, result):
    data = [r.to_dict() for r in result] if isinstance(result, list) else result.to_dict()
    bad = list(unknown_values(data))
    if bad:
        print("FAIL %s: values unknown to the SDK at %s" % (name, ", ".join(bad[:10])))
        return False
    print("OK   %s (%s)" % (name, type(result).__name__ if not isinstance(result, list) else "list of %d" % len(result)))
    return True


def model(cls, **fields):
    """SDK models take no constructor arguments; set the attributes."""
    instance = cls()
    for name, value in fields.items():
        setattr(instance, name, value)
    return instance


def main():
    base = sys.argv[1].rstrip("/")
    client_id = sys.argv[2] if len(sys.argv) > 2 else "recaudit-sim"
    secret = sys.argv[3] if len(sys.argv) > 3 else "sim-secret"
    api_client = gc.api_client.ApiClient(host=base).get_client_credentials_token(client_id, secret)
    analytics = gc.AnalyticsApi(api_client)
    recording = gc.RecordingApi(api_client)
    organization = gc.OrganizationApi(api_client)

    yesterday = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=1)).date()
    interval = "%sT00:00:00.000Z/%sT00:00:00.000Z" % (yesterday, yesterday + datetime.timedelta(days=1))
    ok = True
    try:
        ok &= check("GET .../details/jobs/availability", analytics.get_analytics_conversations_details_jobs_availability())
        job = analytics.post_analytics_conversations_details_jobs(model(gc.AsyncConversationQuery, interval=interval))
        ok &= check("POST /api/v2/analytics/conversations/details/jobs", job)
        for _ in range(5):
            status = analytics.get_analytics_conversations_details_job(job.job_id)
            if status.state == "FULFILLED":
                break
        ok &= check("GET /api/v2/analytics/conversations/details/jobs/{jobId}", status)
        results = analytics.get_analytics_conversations_details_job_results(job.job_id, page_size=100)
        ok &= check("GET .../details/jobs/{jobId}/results", results)
        conversations = results.conversations or []
        if not conversations:
            print("FAIL the simulator returned no conversations for %s" % interval)
            return 1
        page = analytics.post_analytics_conversations_details_query(
            model(gc.ConversationQuery, interval=interval, paging=model(gc.PagingSpec, page_size=25, page_number=1)))
        ok &= check("POST /api/v2/analytics/conversations/details/query", page)
        with_recordings = 0
        for conversation in conversations[:60]:
            metadata = recording.get_conversation_recordingmetadata(conversation.conversation_id)
            with_recordings += bool(metadata)
            ok &= check("GET /api/v2/conversations/{id}/recordingmetadata", metadata) or False
        print("     (%d of the conversations checked had recordings)" % with_recordings)
        # The read-only pull: the org's own export jobs.
        jobs = recording.get_recording_jobs(page_size=100, page_number=1, job_type="EXPORT")
        ok &= check("GET /api/v2/recording/jobs", jobs)
        # An EXPORT without integrationId ("required and used only for EXPORT action") is refused.
        bare = model(gc.RecordingJobsQuery, action="EXPORT", action_date=datetime.datetime.now(datetime.timezone.utc),
                     conversation_query=model(gc.AsyncConversationQuery, interval=interval))
        try:
            recording.post_recording_jobs(bare)
            print("FAIL POST /api/v2/recording/jobs: an EXPORT without integrationId was accepted")
            ok = False
        except ApiException as e:
            print("OK   POST /api/v2/recording/jobs without integrationId: refused with %s" % e.status)
        query = model(gc.RecordingJobsQuery, action="EXPORT", action_date=datetime.datetime.now(datetime.timezone.utc),
                      integration_id="4b5c6d7e-8f90-4a1b-bc2d-3e4f5a6b7c8d",
                      conversation_query=model(gc.AsyncConversationQuery, interval=interval))
        export = recording.post_recording_jobs(query)
        ok &= check("POST /api/v2/recording/jobs", export)
        ok &= check("GET /api/v2/recording/jobs/{jobId}", recording.get_recording_job(export.id))
        ok &= check("PUT /api/v2/recording/jobs/{jobId}", recording.put_recording_job(export.id, model(gc.ExecuteRecordingJobsQuery, state="PROCESSING")))
        ok &= check("GET /api/v2/recording/jobs/{jobId}/failedrecordings", recording.get_recording_job_failedrecordings(export.id, page_size=100))
        ok &= check("GET /api/v2/orphanrecordings", recording.get_orphanrecordings(page_size=100))
        ok &= check("GET /api/v2/orphanrecordings?hasConversation=true", recording.get_orphanrecordings(page_size=100, has_conversation=True))
        ok &= check("GET /api/v2/organizations/limits/namespaces/{namespace}", organization.get_organizations_limits_namespace("platform.api"))
    except ApiException as e:
        print("FAIL the SDK call failed: %s %s" % (e.status, e.reason))
        return 1
    except Exception as e:  # a deserialization error is exactly what this test looks for
        print("FAIL %s: %s" % (type(e).__name__, e))
        return 1
    print("SDK conformance: %s" % ("OK" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
