from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpResponseForbidden
from django.shortcuts import redirect, render

from .forms import TodoForm
from .models import Todo
from .tasks import attachment_added


def todo_list(request):
    """The todos, newest open ones first. A logged-in user gets a form to add one; a visitor
    reads the list and gets the login form."""
    context, status = {"todos": Todo.objects.all()}, 200
    if not request.user.is_authenticated:
        if request.method == "POST":
            # Only logged-in users write: nothing of this request is stored.
            return HttpResponseForbidden("Log in to add todos.\n", content_type="text/plain")
        context["login_form"] = AuthenticationForm()
    elif request.method == "POST":
        # Bound on every POST, even one whose body yields no fields: that is an invalid form
        # (400), not a fresh one.
        form = TodoForm(request.POST, request.FILES, instance=Todo(owner=request.user))
        if form.is_valid():
            todo = form.save()
            if todo.attachment:
                attachment_added.enqueue(todo.id)
            return redirect("todo-list")
        context["form"] = form
        status = 429 if form.has_error("attachment", code="upload_limit") else 400
    else:
        context["form"] = TodoForm()
    return render(request, "todos/todo_list.html", context, status=status)
