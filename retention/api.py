"""The dashboard's figures as JSON, for the company's own reporting."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from core.enums import ApiScope
from retention import definitions, selectors
from retention.selectors import Filters
from retention.serializers import SummaryQuerySerializer, SummarySerializer
from subscriptions.api import ERROR_RESPONSES

ID_SCHEMA = {"type": "integer", "minimum": 1}


def _winback(summary: selectors.WinbackSummary) -> dict:
    return {
        "contacted": summary.contacted,
        "hits": summary.hits,
        "contacts": summary.contacts,
        "comebacks": summary.comebacks,
        "organic": summary.organic,
        "hit_rate": summary.hit_rate,
        "value": summary.value,
        "lifetime_value": summary.lifetime_value,
        "cost": summary.cost,
        "roi": summary.roi,
        "cost_per_comeback": summary.cost_per_comeback,
    }


class MetricsSummaryView(APIView):
    required_scopes = {"GET": ApiScope.METRICS}

    @extend_schema(
        summary="Save rate, win-back hit rate and what they are worth, for a period.",
        description=(
            "The same figures as the retention dashboard, for the period `from`–`to` and the "
            "period of the same length before it. Rates are shares between 0 and 1 (null "
            "when there is nothing to divide); money is a decimal string.\n\n"
            + definitions.as_text()
        ),
        parameters=[
            OpenApiParameter(
                "from", OpenApiTypes.DATE, required=True, description="First day, YYYY-MM-DD."
            ),
            OpenApiParameter(
                "to",
                OpenApiTypes.DATE,
                required=True,
                description="Last day, YYYY-MM-DD: on or after `from`, at most three years on.",
            ),
            OpenApiParameter("channel", str, enum=["web", "phone", "api"]),
            OpenApiParameter("plan", ID_SCHEMA, description="A plan id (404 when no plan has it)."),
            OpenApiParameter(
                "churn_group",
                str,
                enum=[
                    "deliberately_pushed",
                    "unintentionally_pushed",
                    "pulled_away",
                    "bought_away",
                    "self_switcher",
                ],
            ),
            OpenApiParameter(
                "campaign", ID_SCHEMA, description="A campaign id (404 when no campaign has it)."
            ),
        ],
        responses={200: SummarySerializer, **ERROR_RESPONSES},
    )
    def get(self, request):
        query = SummaryQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        filters = Filters(
            start=data["from"],
            end=data["to"],
            channel=data.get("channel", ""),
            plan=data.get("plan"),
            churn_group=data.get("churn_group", ""),
            campaign=data.get("campaign"),
        )
        figures = selectors.dashboard(filters)
        previous = filters.previous()
        body = {
            "period": {"start": filters.start, "end": filters.end},
            "previous_period": {"start": previous.start, "end": previous.end},
            "cases": figures["cases"],
            "previous_cases": figures["previous_cases"],
            "winback": _winback(figures["winback"]),
            "previous_winback": _winback(figures["previous_winback"]),
            "breakdowns": figures["breakdowns"],
            "winback_breakdowns": {
                name: [{**row, "uplift": vars(row["uplift"])} for row in rows]
                for name, rows in figures["winback_breakdowns"].items()
            },
            "funnel": figures["funnel"],
        }
        return Response(SummarySerializer(body).data)
