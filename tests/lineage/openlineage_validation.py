"""Validates an OpenLineage run event (a dict parsed from Sluice's JSON) against openlineage-python's
spec models (the package ships no JSON schema files, so its generated attrs classes are the spec here):
every object is rebuilt with the model's constructor, which rejects a missing or unknown field and runs
the models' validators (UUID run id, ISO 8601 time, URIs), each facet's `_schemaURL` must be the one the
model declares, and serialising the rebuilt event must give back exactly the event Sluice sent."""
from __future__ import annotations

from openlineage.client import event_v2
from openlineage.client.generated import column_lineage_dataset as cl
from openlineage.client.generated import error_message_run, job_type_job, schema_dataset
from openlineage.client.serde import Serde

RUN_EVENT_SCHEMA = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"


def _facet(model, data: dict, **fields):
    data = dict(data)
    producer = data.pop("_producer")
    schema_url = data.pop("_schemaURL")
    facet = model(**{**data, **fields}, producer=producer)
    assert facet._schemaURL == schema_url, f"{model.__name__}: _schemaURL {schema_url} is not the spec's {facet._schemaURL}"
    return facet


def _dataset_facets(facets: dict) -> dict:
    built = {}
    for name, data in facets.items():
        if name == "schema":
            built[name] = _facet(schema_dataset.SchemaDatasetFacet, data,
                                 fields=[schema_dataset.SchemaDatasetFacetFields(**f) for f in data["fields"]])
        elif name == "columnLineage":
            fields = {
                column: cl.Fields(**{**entry, "inputFields": [
                    cl.InputField(**{**i, "transformations": [cl.Transformation(**t) for t in i["transformations"]]})
                    for i in entry["inputFields"]]})
                for column, entry in data["fields"].items()
            }
            built[name] = _facet(cl.ColumnLineageDatasetFacet, data, fields=fields)
        else:
            raise AssertionError(f"unexpected dataset facet {name}")
    return built


def validate(event: dict) -> None:
    assert event["schemaURL"] == RUN_EVENT_SCHEMA, event["schemaURL"]
    run_facets = {}
    for name, data in event["run"].get("facets", {}).items():
        assert name == "errorMessage", f"unexpected run facet {name}"
        run_facets[name] = _facet(error_message_run.ErrorMessageRunFacet, data)
    job_facets = {name: _facet(job_type_job.JobTypeJobFacet, data) for name, data in event["job"]["facets"].items()}
    assert set(job_facets) == {"jobType"}
    rebuilt = event_v2.RunEvent(
        eventType=event_v2.RunState(event["eventType"]),
        eventTime=event["eventTime"],
        run=event_v2.Run(runId=event["run"]["runId"], facets=run_facets),
        job=event_v2.Job(namespace=event["job"]["namespace"], name=event["job"]["name"], facets=job_facets),
        inputs=[event_v2.InputDataset(namespace=d["namespace"], name=d["name"], facets=_dataset_facets(d["facets"]))
                for d in event["inputs"]],
        outputs=[event_v2.OutputDataset(namespace=d["namespace"], name=d["name"], facets=_dataset_facets(d["facets"]))
                 for d in event["outputs"]],
        producer=event["producer"],
    )
    assert rebuilt.schemaURL == RUN_EVENT_SCHEMA
    assert _without_empty(Serde.to_dict(rebuilt)) == _without_empty(event), "the event does not survive the spec model round trip"


def _without_empty(value):
    """Serde drops empty facet maps and lists the event may carry (`"facets": {}`, `"inputs": []`)."""
    if isinstance(value, dict):
        return {k: _without_empty(v) for k, v in value.items() if v not in ({}, [], None)}
    if isinstance(value, list):
        return [_without_empty(v) for v in value]
    return value
