"""The API left as DRF generates it: a ModelViewSet over Note, no version
in any handler.  What protects its writes is the request's If-Match,
registered by middleware.IfMatchMiddleware."""

from rest_framework import serializers, viewsets

from .models import Note


class NoteSerializer(serializers.ModelSerializer):
    class Meta:
        model = Note
        fields = ["id", "title", "body", "row_version"]
        read_only_fields = ["row_version"]


class NoteViewSet(viewsets.ModelViewSet):
    queryset = Note.objects.order_by("id")
    serializer_class = NoteSerializer
