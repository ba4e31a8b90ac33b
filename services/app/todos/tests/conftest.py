import pytest


@pytest.fixture
def user(django_user_model):
    return django_user_model.objects.create_user("alice", password="a-long-password-1")


@pytest.fixture
def user_client(client, user):
    client.force_login(user)
    return client
