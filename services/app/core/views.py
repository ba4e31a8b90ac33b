import logging

from django.db import DatabaseError, connection
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from .forms import TodoForm
from .models import Todo

log = logging.getLogger(__name__)


def todo_list(request):
    """The todos, newest open ones first, and a form to add one."""
    # Bound on every POST, even one whose body yields no fields: that is an invalid form (400),
    # not a fresh one.
    form = TodoForm(request.POST, request.FILES) if request.method == "POST" else TodoForm()
    if form.is_bound and form.is_valid():
        form.save()
        return redirect("todo-list")
    status = 400 if form.errors else 200
    todos = Todo.objects.all()
    return render(request, "core/todo_list.html", {"form": form, "todos": todos}, status=status)


def first_line(exc):
    return (str(exc).strip() or type(exc).__name__).splitlines()[0]


@never_cache
@require_GET
def healthz(request):
    """Liveness and database readiness, for the healthchecks: never a traceback."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as exc:
        log.warning("healthz: database unavailable: %s", first_line(exc))
        return JsonResponse({"status": "error", "database": "unavailable"}, status=503)
    return JsonResponse({"status": "ok", "database": "ok"})
