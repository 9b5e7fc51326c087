"""Amazon QuickSight over the marts: an Athena data source (the dashboards' workgroup, run as the
stack's QuickSight role), one data set per mart (columns from the dbt contracts, the heat map's
cells tagged as latitude and longitude) and a dashboard with the panels of the local one."""

from __future__ import annotations

import hashlib
import json
from typing import Any, ClassVar

import yaml

from cloud.base import Clients, Resource, unless_missing
from cloud.stack import Stack
from contract.project import packaged_dbt_project

DATA_SETS = (
    "fct_vehicle_speed_hourly",
    "fct_incidents_hourly",
    "fct_route_heatmap",
    "fct_weather_hourly",
    "fct_pipeline_freshness",
    "fct_speed_hourly",
)
QS_TYPES = {
    "varchar": "STRING",
    "integer": "INTEGER",
    "bigint": "INTEGER",
    "double": "DECIMAL",
    "timestamp": "DATETIME",
}
DIGEST_TAG = "smartcity:definition-sha256"
OWNER_ACTIONS = {
    "data source": [
        "quicksight:DescribeDataSource",
        "quicksight:DescribeDataSourcePermissions",
        "quicksight:PassDataSource",
        "quicksight:UpdateDataSource",
        "quicksight:DeleteDataSource",
        "quicksight:UpdateDataSourcePermissions",
    ],
    "data set": [
        "quicksight:DescribeDataSet",
        "quicksight:DescribeDataSetPermissions",
        "quicksight:PassDataSet",
        "quicksight:DescribeIngestion",
        "quicksight:ListIngestions",
        "quicksight:UpdateDataSet",
        "quicksight:DeleteDataSet",
        "quicksight:CreateIngestion",
        "quicksight:CancelIngestion",
        "quicksight:UpdateDataSetPermissions",
    ],
    "dashboard": [
        "quicksight:DescribeDashboard",
        "quicksight:ListDashboardVersions",
        "quicksight:UpdateDashboardPermissions",
        "quicksight:QueryDashboard",
        "quicksight:UpdateDashboard",
        "quicksight:DeleteDashboard",
        "quicksight:DescribeDashboardPermissions",
        "quicksight:UpdateDashboardPublishedVersion",
    ],
}


DATA_SOURCE = "athena"  # the data source's asset id, which every data set reads through


def mart_columns() -> dict[str, list[tuple[str, str]]]:
    """(column, QuickSight type) of every mart, from the enforced dbt contracts."""
    found = {}
    for path in sorted((packaged_dbt_project() / "models" / "marts").glob("*/_*__models.yml")):
        for model in yaml.safe_load(path.read_text())["models"]:
            found[model["name"]] = [(c["name"], QS_TYPES[c["data_type"]]) for c in model.get("columns", [])]
    return found


def digest(document: dict) -> str:
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()[:32]


class QuickSightAsset(Resource):
    """QuickSight keeps tags on every asset; existence and drift are read from them (a digest of
    the definition), since a dashboard's definition is not returned by every API."""

    kind = "quicksight asset"  # "quicksight <noun>": the API's names follow from the noun

    def __init__(self, stack: Stack, clients: Clients, asset: str, title: str) -> None:
        """The asset's id is <stack>-<asset>; ``title`` is the name people see, the stack's after it."""
        super().__init__(stack, clients, f"{stack.name}-{asset}")
        self.title = f"{title} ({stack.name})"

    @property
    def noun(self) -> list[str]:
        return self.kind.split()[1:]  # ["data", "source"]

    @property
    def arn(self) -> str:
        return self.stack.arn("quicksight", f"{''.join(self.noun)}/{self.name}")  # datasource/<id>

    @property
    def id_field(self) -> str:
        return "".join(word.title() for word in self.noun) + "Id"  # DataSourceId

    @property
    def identity(self) -> dict[str, str]:
        """The arguments that name the asset in every call."""
        return {"AwsAccountId": self.stack.account, self.id_field: self.name}

    def definition(self) -> dict:
        """The request's arguments past the asset's identity and title."""
        raise NotImplementedError

    def request(self) -> dict:
        return {**self.identity, "Name": self.title, **self.definition()}

    def desired(self) -> dict:
        return {"tags": self.stack.tags | {DIGEST_TAG: digest(self.request())}}

    def read(self) -> dict | None:
        quicksight = self.aws("quicksight")
        tags = unless_missing(lambda: quicksight.list_tags_for_resource(ResourceArn=self.arn)["Tags"])
        # No tags: not ours, or not there (moto answers an unknown ARN with no tags, not an error).
        return {"tags": {t["Key"]: t["Value"] for t in tags}} if tags else None

    def _tags(self) -> list[dict]:
        return [{"Key": k, "Value": v} for k, v in self.desired()["tags"].items()]

    def _permissions(self) -> list[dict]:
        return [{"Principal": self.stack.quicksight_principal, "Actions": OWNER_ACTIONS[" ".join(self.noun)]}]


class DataSource(QuickSightAsset):
    kind = "quicksight data source"

    def definition(self) -> dict:
        return {
            "Type": "ATHENA",
            "DataSourceParameters": {
                "AthenaParameters": {
                    "WorkGroup": self.stack.workgroup("dashboards"),
                    "RoleArn": self.stack.role_arn("quicksight"),
                }
            },
        }

    def create(self) -> None:
        self.aws("quicksight").create_data_source(**self.request(), Permissions=self._permissions(), Tags=self._tags())

    def update(self) -> None:
        request = {k: v for k, v in self.request().items() if k != "Type"}
        self.aws("quicksight").update_data_source(**request)
        self.aws("quicksight").tag_resource(ResourceArn=self.arn, Tags=self._tags())

    def delete(self) -> None:
        self.aws("quicksight").delete_data_source(**self.identity)


class DataSet(QuickSightAsset):
    kind = "quicksight data set"
    GEO_ROLES: ClassVar[dict[str, dict[str, str]]] = {
        "fct_route_heatmap": {"cell_lat": "LATITUDE", "cell_lon": "LONGITUDE"}
    }

    def __init__(self, stack: Stack, clients: Clients, mart: str, columns: list[tuple[str, str]]) -> None:
        super().__init__(stack, clients, mart, mart)
        self.mart, self.columns = mart, columns

    def definition(self) -> dict:
        logical: dict[str, Any] = {"Alias": self.mart, "Source": {"PhysicalTableId": "mart"}}
        roles = self.GEO_ROLES.get(self.mart, {})
        if roles:
            logical["DataTransforms"] = [
                {"TagColumnOperation": {"ColumnName": column, "Tags": [{"ColumnGeographicRole": role}]}}
                for column, role in roles.items()
            ]
        return {
            "PhysicalTableMap": {
                "mart": {
                    "RelationalTable": {
                        "DataSourceArn": self.stack.arn("quicksight", f"datasource/{self.stack.name}-{DATA_SOURCE}"),
                        "Catalog": "AwsDataCatalog",
                        "Schema": self.stack.database("marts"),
                        "Name": self.mart,
                        "InputColumns": [{"Name": n, "Type": t} for n, t in self.columns],
                    }
                }
            },
            "LogicalTableMap": {"mart": logical},
            "ImportMode": "DIRECT_QUERY",  # the marts refresh every minute; SPICE would lag behind them
        }

    def create(self) -> None:
        self.aws("quicksight").create_data_set(**self.request(), Permissions=self._permissions(), Tags=self._tags())
        # Tagged again on its own: existence and drift are read from the tags (see QuickSightAsset).
        self.aws("quicksight").tag_resource(ResourceArn=self.arn, Tags=self._tags())

    def update(self) -> None:
        self.aws("quicksight").update_data_set(**self.request())
        self.aws("quicksight").tag_resource(ResourceArn=self.arn, Tags=self._tags())

    def delete(self) -> None:
        self.aws("quicksight").delete_data_set(**self.identity)


def _column(data_set: str, name: str) -> dict:
    return {"DataSetIdentifier": data_set, "ColumnName": name}


def _measure(field_id: str, data_set: str, column: str, how: str = "AVERAGE") -> dict:
    return {
        "NumericalMeasureField": {
            "FieldId": field_id,
            "Column": _column(data_set, column),
            "AggregationFunction": {"SimpleNumericalAggregation": how},
        }
    }


def _hour(field_id: str, data_set: str) -> dict:
    return {
        "DateDimensionField": {
            "FieldId": field_id,
            "Column": _column(data_set, "hour_start"),
            "DateGranularity": "HOUR",
        }
    }


def _category(field_id: str, data_set: str, column: str) -> dict:
    return {"CategoricalDimensionField": {"FieldId": field_id, "Column": _column(data_set, column)}}


def _title(text: str) -> dict:
    return {"Visibility": "VISIBLE", "FormatText": {"PlainText": text}}


def _kpi(visual_id: str, title: str, value: dict) -> dict:
    return {
        "KPIVisual": {
            "VisualId": visual_id,
            "Title": _title(title),
            "ChartConfiguration": {"FieldWells": {"Values": [value]}},
        }
    }


def dashboard_definition(stack: Stack) -> dict:
    ids = {mart: stack.arn("quicksight", f"dataset/{stack.name}-{mart}") for mart in DATA_SETS}
    speed, incidents, heat, weather, freshness, hourly = DATA_SETS
    visuals = [
        _kpi(
            "kpi-vehicles",
            "Vehicles",
            {
                "CategoricalMeasureField": {
                    "FieldId": "vehicles",
                    "Column": _column(speed, "vehicle_id"),
                    "AggregationFunction": "DISTINCT_COUNT",
                }
            },
        ),
        _kpi("kpi-speed", "Average speed (km/h)", _measure("avg-speed", speed, "avg_speed_kmh")),
        _kpi("kpi-incidents", "Incidents", _measure("incidents", incidents, "incidents", "SUM")),
        _kpi(
            "kpi-freshness",
            "Seconds since the last event landed",
            _measure("freshness", freshness, "seconds_since_last_ingest", "MIN"),
        ),
        {
            "LineChartVisual": {
                "VisualId": "speed-over-time",
                "Title": _title("Average and 95th-percentile speed per hour"),
                "ChartConfiguration": {
                    "FieldWells": {
                        "LineChartAggregatedFieldWells": {
                            # One row per hour, with percentiles over the hour's readings: the
                            # per-vehicle rows of `speed` cannot be combined into a percentile.
                            "Category": [_hour("speed-hour", hourly)],
                            "Values": [
                                _measure("speed-avg", hourly, "avg_speed_kmh", "MAX"),
                                _measure("speed-p95", hourly, "p95_speed_kmh", "MAX"),
                            ],
                        }
                    }
                },
            }
        },
        {
            "BarChartVisual": {
                "VisualId": "speed-per-segment",
                "Title": _title("Average speed per route segment"),
                "ChartConfiguration": {
                    "FieldWells": {
                        "BarChartAggregatedFieldWells": {
                            "Category": [
                                {
                                    "NumericalDimensionField": {
                                        "FieldId": "segment",
                                        "Column": _column(speed, "segment_start_km"),
                                    }
                                }
                            ],
                            "Values": [_measure("segment-speed", speed, "avg_speed_kmh")],
                        }
                    }
                },
            }
        },
        {
            "BarChartVisual": {
                "VisualId": "incidents-over-time",
                "Title": _title("Incident events per hour by type"),
                "ChartConfiguration": {
                    "FieldWells": {
                        "BarChartAggregatedFieldWells": {
                            "Category": [_hour("incident-hour", incidents)],
                            "Values": [_measure("incident-events", incidents, "incident_events", "SUM")],
                            "Colors": [_category("incident-type", incidents, "incident_type")],
                        }
                    }
                },
            }
        },
        {
            "GeospatialMapVisual": {
                "VisualId": "route-heatmap",
                "Title": _title("Route heat map (position events per grid cell)"),
                "ChartConfiguration": {
                    "FieldWells": {
                        "GeospatialMapAggregatedFieldWells": {
                            "Geospatial": [
                                {
                                    "NumericalDimensionField": {
                                        "FieldId": "cell-lat",
                                        "Column": _column(heat, "cell_lat"),
                                    }
                                },
                                {
                                    "NumericalDimensionField": {
                                        "FieldId": "cell-lon",
                                        "Column": _column(heat, "cell_lon"),
                                    }
                                },
                            ],
                            "Values": [_measure("cell-events", heat, "position_events", "SUM")],
                        }
                    },
                    "PointStyleOptions": {"SelectedPointStyle": "HEATMAP"},
                },
            }
        },
        {
            "LineChartVisual": {
                "VisualId": "weather",
                "Title": _title("Temperature (°C) and precipitation (mm) by region"),
                "ChartConfiguration": {
                    "FieldWells": {
                        "LineChartAggregatedFieldWells": {
                            "Category": [_hour("weather-hour", weather)],
                            "Values": [
                                _measure("temperature", weather, "avg_temperature_c"),
                                _measure("precipitation", weather, "avg_precipitation_mm"),
                            ],
                            "Colors": [_category("region", weather, "region")],
                        }
                    }
                },
            }
        },
    ]
    return {
        "DataSetIdentifierDeclarations": [{"Identifier": mart, "DataSetArn": arn} for mart, arn in ids.items()],
        "Sheets": [{"SheetId": "traffic", "Name": "Boston to New York", "Visuals": visuals}],
    }


class Dashboard(QuickSightAsset):
    kind = "quicksight dashboard"

    def definition(self) -> dict:
        return {"Definition": dashboard_definition(self.stack)}

    def create(self) -> None:
        self.aws("quicksight").create_dashboard(**self.request(), Permissions=self._permissions(), Tags=self._tags())

    def update(self) -> None:
        self.aws("quicksight").update_dashboard(**self.request())
        self.aws("quicksight").tag_resource(ResourceArn=self.arn, Tags=self._tags())

    def delete(self) -> None:
        self.aws("quicksight").delete_dashboard(**self.identity)


def quicksight_resources(stack: Stack, clients: Clients) -> list[Resource]:
    columns = mart_columns()
    return [
        DataSource(stack, clients, DATA_SOURCE, "smartcity marts"),
        *(DataSet(stack, clients, mart, columns[mart]) for mart in DATA_SETS),
        Dashboard(stack, clients, "traffic", "City traffic: Boston to New York"),
    ]
