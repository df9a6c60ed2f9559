"""A plain DRF view that inserts one row (and enqueues the first hop), and one that reads it.

They use the project's DRF defaults (customer JWT authentication, the customer and IP
throttles, the JSON renderer) and the same middleware as the API, because every
endpoint of the service pays for those; what they leave out is the service's own work.
"""

from django.db import transaction
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from .models import FloorRow
from .tasks import floor_hop_task


class FloorRowSerializer(serializers.ModelSerializer):
    class Meta:
        model = FloorRow
        fields = ["id", "state", "hops_done", "hops_total", "created_at", "updated_at"]


class FloorCreateView(APIView):
    def post(self, request):
        hops = int(request.data.get("hops", 3))
        with transaction.atomic():
            row = FloorRow.objects.create(customer_id=request.user.customer_id, hops_total=hops)
            if hops > 0:
                floor_hop_task.delay_on_commit(str(row.pk), 1, hops)
        return Response(FloorRowSerializer(row).data, status=status.HTTP_202_ACCEPTED)


class FloorReadView(APIView):
    def get(self, request, row_id):
        row = FloorRow.objects.filter(pk=row_id, customer_id=request.user.customer_id).first()
        if row is None:
            return Response({"error": {"code": "not_found", "message": "No such row."}},
                            status=status.HTTP_404_NOT_FOUND)
        return Response(FloorRowSerializer(row).data)
