from rest_framework.routers import SimpleRouter

from . import claim_api, hook_api

# One prefix per variant of the API; the tests take the prefix.
router = SimpleRouter()
router.register("claim/articles", claim_api.ArticleViewSet, basename="claim-article")
router.register("hook/notes", hook_api.NoteViewSet, basename="hook-note")
urlpatterns = router.urls
