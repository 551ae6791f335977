"""The API whose serializer carries row_version like a form's hidden field:
the client sends back the version it read, save() writes it as a claim."""

from rest_framework import serializers, viewsets

from .models import Article


class ArticleSerializer(serializers.ModelSerializer):
    class Meta:
        model = Article
        fields = ["id", "title", "body", "row_version"]

    def validate(self, attrs):
        # An update must say which version it changes; a new row gets one.
        if self.instance is not None and "row_version" not in attrs:
            raise serializers.ValidationError(
                {"row_version": "Send the row_version you read."})
        return attrs


class ArticleViewSet(viewsets.ModelViewSet):
    queryset = Article.objects.order_by("id")
    serializer_class = ArticleSerializer
