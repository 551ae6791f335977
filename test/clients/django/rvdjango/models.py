"""The model, shared by every variant of the API."""

from django.db import models, transaction


class RowVersionField(models.BigIntegerField):
    """The row version, kept by the extension's trigger.  INSERT reads the
    assigned version back (RETURNING); on UPDATE, save() writes the value
    the instance holds -- the version the client read -- which is a claim
    that the trigger checks under the row lock."""

    db_returning = True

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("default", 0)  # replaced by the trigger on INSERT
        super().__init__(*args, **kwargs)


class Article(models.Model):
    title = models.CharField(max_length=200)
    body = models.TextField()
    row_version = RowVersionField()

    class Meta:
        db_table = "articles"

    def save(self, *args, **kwargs):
        """Saves, then reads the version the row now has.  Both in one
        transaction: the UPDATE's row lock keeps anyone else from changing
        the row in between."""
        with transaction.atomic():
            super().save(*args, **kwargs)
            self.row_version = Article.objects.values_list(
                "row_version", flat=True).get(pk=self.pk)


class Note(models.Model):
    """A model that never writes its version: save() leaves row_version out
    of its UPDATE, so the only check on a write is the precondition that
    the request registered (expect_match), not a claim."""

    title = models.CharField(max_length=200)
    body = models.TextField()
    row_version = RowVersionField()

    class Meta:
        db_table = "notes"

    def save(self, *args, **kwargs):
        if self._state.adding or kwargs.get("force_insert"):
            return super().save(*args, **kwargs)
        # (update_fields also keeps Django from inserting the row again
        # when the UPDATE finds it deleted)
        kwargs.setdefault("update_fields", [
            f.name for f in self._meta.concrete_fields
            if not f.primary_key and f.name != "row_version"])
        with transaction.atomic():
            super().save(*args, **kwargs)
            self.row_version = Note.objects.values_list(
                "row_version", flat=True).get(pk=self.pk)


SCHEMA_SQL = """
SELECT rowversion.enable('articles', require_version => true);
SELECT rowversion.enable('notes', require_version => true);
"""
