"""/api/v1/team/: members, roles, invitations; /api/v1/aliases/: model aliases.

The rules (who may grant which role, the last owner stays) live in accounts.orgs and are the
dashboard's; a broken rule is a 403 with code `team_rule`.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import Invitation, Membership
from accounts.orgs import change_role, invite_member, remove_member, withdraw_invitation
from api.access import access_of, require_manager
from api.serializers import AliasSerializer, InvitationSerializer, MemberSerializer
from catalog.aliases import add_alias, delete_alias
from catalog.models import ModelAlias


class RoleSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Membership.Role.choices)


class _Members(generics.GenericAPIView):
    serializer_class = MemberSerializer
    pagination_class = None

    def get_queryset(self) -> QuerySet[Membership]:
        return Membership.objects.filter(org=access_of(self.request).org).select_related("user").order_by("created")


@extend_schema(summary="List the org's members", tags=["team"])
class MemberList(_Members, generics.ListAPIView):
    pass


@extend_schema_view(
    get=extend_schema(summary="Read a member", tags=["team"]),
    patch=extend_schema(summary="Change a member's role", tags=["team"], request=RoleSerializer),
    delete=extend_schema(summary="Remove a member (or leave: your own membership)", tags=["team"]),
)
class MemberDetail(_Members, generics.RetrieveUpdateDestroyAPIView):
    http_method_names = ["get", "patch", "delete", "head", "options"]

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        member = self.get_object()
        form = RoleSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        change_role(member, form.validated_data["role"], by=access_of(request).membership)
        return Response(MemberSerializer(member).data)

    def perform_destroy(self, instance: Membership) -> None:
        remove_member(instance, by=access_of(self.request).membership)


class _Invitations(generics.GenericAPIView):
    serializer_class = InvitationSerializer
    pagination_class = None

    def get_queryset(self) -> QuerySet[Invitation]:
        org = access_of(self.request).org
        return Invitation.objects.filter(org=org, accepted_at__isnull=True).select_related("invited_by")


@extend_schema_view(
    get=extend_schema(summary="List pending invitations", tags=["team"]),
    post=extend_schema(summary="Invite someone by email (owners and admins)", tags=["team"]),
)
class InvitationList(_Invitations, generics.ListCreateAPIView):
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        access = access_of(request)
        require_manager(access)
        form = InvitationSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        email, role = form.validated_data["email"], form.validated_data.get("role", Membership.Role.MEMBER)
        invitation = invite_member(access.org, email=email, role=role, by=access.membership)
        return Response(InvitationSerializer(invitation).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    get=extend_schema(summary="Read an invitation", tags=["team"]),
    delete=extend_schema(summary="Withdraw an invitation (owners and admins)", tags=["team"]),
)
class InvitationDetail(_Invitations, generics.RetrieveDestroyAPIView):
    def perform_destroy(self, instance: Invitation) -> None:
        access = access_of(self.request)
        require_manager(access)
        withdraw_invitation(instance, by=access.membership)


class _Aliases(generics.GenericAPIView):
    serializer_class = AliasSerializer
    pagination_class = None

    def get_queryset(self) -> QuerySet[ModelAlias]:
        return ModelAlias.objects.filter(org=access_of(self.request).org).select_related("model").order_by("alias")


@extend_schema_view(
    get=extend_schema(summary="List the org's model aliases", tags=["aliases"]),
    post=extend_schema(summary="Add an alias (owners and admins)", tags=["aliases"]),
)
class AliasList(_Aliases, generics.ListCreateAPIView):
    def perform_create(self, serializer: AliasSerializer) -> None:  # type: ignore[override]
        access = access_of(self.request)
        require_manager(access)
        data = serializer.validated_data
        serializer.instance = add_alias(access.org, data["alias"], data["model"])


@extend_schema_view(
    get=extend_schema(summary="Read an alias", tags=["aliases"]),
    delete=extend_schema(summary="Delete an alias (owners and admins)", tags=["aliases"]),
)
class AliasDetail(_Aliases, generics.RetrieveDestroyAPIView):
    def perform_destroy(self, instance: ModelAlias) -> None:
        require_manager(access_of(self.request))
        delete_alias(instance)
