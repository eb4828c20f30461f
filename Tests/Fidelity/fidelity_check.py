"""Fidelity check: the official Microsoft Graph SDK for Python against `allot simulate`.

The SDK (msgraph-sdk) and azure-identity are used as their documentation shows. Only two
things differ from talking to the real service: the authority host (azure-identity's
`authority=`, with `disable_instance_discovery=True`) and the Graph base URL (set on the
request adapter). The simulator's self-signed certificate is trusted the documented way,
through REQUESTS_CA_BUNDLE (requests, used by azure-identity) and SSL_CERT_FILE (httpx, used
by the SDK). run.sh sets all of this up.

What is checked: users listed with paging, SKUs, a group by name and its transitive members,
a license assigned and removed (seats follow), Graph errors mapped to ODataError, a parallel
JSON batch answered out of order, the SDK's depends_on (ignored, as Graph ignores it), MSAL's
token cache (one token request for many calls) and token refresh, and a users delta round trip
(a first round in pages, then only the user whose selected property changed: the license
writes in between are not reported, as Graph does not track licenses).
"""

import asyncio
import math
import os
import sys
import time
import uuid

import requests
from azure.identity import ClientSecretCredential
from kiota_abstractions.base_request_configuration import RequestConfiguration
from kiota_authentication_azure.azure_identity_authentication_provider import (
    AzureIdentityAuthenticationProvider,
)
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph.generated.groups.groups_request_builder import GroupsRequestBuilder
from msgraph.generated.groups.item.transitive_members.graph_user.graph_user_request_builder import (
    GraphUserRequestBuilder,
)
from msgraph.generated.models.assigned_license import AssignedLicense
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.user import User
from msgraph.generated.users.delta.delta_request_builder import DeltaRequestBuilder
from msgraph.generated.users.item.assign_license.assign_license_post_request_body import (
    AssignLicensePostRequestBody,
)
from msgraph.generated.users.users_request_builder import UsersRequestBuilder
from msgraph_core.requests.batch_request_content import BatchRequestContent
from msgraph_core.requests.batch_request_item import BatchRequestItem
from msgraph_core.tasks.page_iterator import PageIterator

BASE = os.environ["SIM_BASE_URL"]  # https://127.0.0.1:PORT
TENANT = os.environ["SIM_TENANT_ID"]
CLIENT_ID = os.environ["SIM_CLIENT_ID"]
CLIENT_SECRET = os.environ["SIM_CLIENT_SECRET"]
USERS = int(os.environ["SIM_USERS"])
TOKEN_LIFETIME = int(os.environ["SIM_TOKEN_LIFETIME"])
CA_FILE = os.environ["REQUESTS_CA_BUNDLE"]

VISIOCLIENT = "c5928f49-12ba-48f7-ada3-0d743a3601d5"
SCOPES = ["https://graph.microsoft.com/.default"]

failures = []


def check(condition, message):
    """Records a failed expectation and keeps going, so one run reports every problem."""
    if condition:
        print(f"  ok: {message}")
    else:
        print(f"  FAILED: {message}")
        failures.append(message)


def token_requests():
    """How many token requests the simulator has answered (its control API, not the SDK)."""
    log = requests.get(f"{BASE}/_simulator/requests", verify=CA_FILE, timeout=30).json()
    return sum(1 for entry in log if entry["path"].endswith("/oauth2/v2.0/token") and entry["status"] == 200)


def make_client():
    # azure-identity: a client secret credential; the authority host is the simulator's.
    credential = ClientSecretCredential(
        tenant_id=TENANT,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        authority=BASE,
        disable_instance_discovery=True,
    )
    # msgraph-sdk: authentication provider, request adapter, client; the base URL is the simulator's.
    auth_provider = AzureIdentityAuthenticationProvider(credential, scopes=SCOPES)
    adapter = GraphRequestAdapter(auth_provider)
    adapter.base_url = f"{BASE}/v1.0"
    return GraphServiceClient(request_adapter=adapter)


async def list_users(client):
    print("users, paged")
    query = UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(
        select=["id", "userPrincipalName", "usageLocation", "assignedLicenses", "accountEnabled"],
        top=999,
    )
    first = await client.users.get(request_configuration=RequestConfiguration(query_parameters=query))
    users = []
    pages = 1

    def collect(user):
        users.append(user)
        return True

    iterator = PageIterator(first, client.request_adapter)
    original_fetch = iterator.fetch_next_page

    async def counting_fetch():
        nonlocal pages
        pages += 1
        return await original_fetch()

    iterator.fetch_next_page = counting_fetch
    await iterator.iterate(collect)
    check(len(users) == USERS, f"{len(users)} users listed, {USERS} expected")
    check(pages == math.ceil(USERS / 999), f"{pages} pages of 999")
    check(len({user.id for user in users}) == USERS, "user ids are unique")
    check(all(isinstance(user, User) for user in users), "pages decode into User models")

    count_config = RequestConfiguration()
    count_config.headers.add("ConsistencyLevel", "eventual")
    count = await client.users.count.get(request_configuration=count_config)
    check(count == USERS, f"/users/$count says {count}")
    return users


async def read_skus(client):
    print("subscribedSkus")
    skus = await client.subscribed_skus.get()
    by_name = {sku.sku_part_number: sku for sku in skus.value}
    check({"SPE_E3", "SPE_E5", "POWER_BI_PRO", "VISIOCLIENT"} <= set(by_name), "managed SKUs present")
    visio = by_name["VISIOCLIENT"]
    check(visio.prepaid_units.enabled > visio.consumed_units, "VISIOCLIENT has free seats")
    check(len(visio.service_plans) > 0 and visio.service_plans[0].service_plan_id is not None, "service plans decode")
    return by_name


async def read_groups(client):
    print("groups by name, transitive members")
    query = GroupsRequestBuilder.GroupsRequestBuilderGetQueryParameters(
        filter="displayName eq 'Engineering'", select=["id", "displayName"]
    )
    groups = await client.groups.get(request_configuration=RequestConfiguration(query_parameters=query))
    check(len(groups.value) == 1, "exactly one group named Engineering")
    engineering = groups.value[0].id

    platform = await client.groups.get(
        request_configuration=RequestConfiguration(
            query_parameters=GroupsRequestBuilder.GroupsRequestBuilderGetQueryParameters(
                filter="displayName eq 'Platform Engineering'"
            )
        )
    )
    platform_id = platform.value[0].id

    async def transitive_users(group_id):
        config = RequestConfiguration(
            query_parameters=GraphUserRequestBuilder.GraphUserRequestBuilderGetQueryParameters(
                select=["id", "userPrincipalName"], top=100, count=True
            )
        )
        config.headers.add("ConsistencyLevel", "eventual")
        page = await client.groups.by_group_id(group_id).transitive_members.graph_user.get(request_configuration=config)
        reported = page.odata_count
        members = list(page.value)
        while page.odata_next_link:
            # Graph's paging guide: ConsistencyLevel is not carried over to next pages; set it again.
            next_config = RequestConfiguration()
            next_config.headers.add("ConsistencyLevel", "eventual")
            page = await client.groups.by_group_id(group_id).transitive_members.graph_user.with_url(page.odata_next_link).get(
                request_configuration=next_config
            )
            members.extend(page.value)
        return reported, members

    reported, members = await transitive_users(engineering)
    check(len(members) == reported and reported > 100, f"{len(members)} transitive members over pages, @odata.count {reported}")
    _, platform_members = await transitive_users(platform_id)
    check({m.id for m in platform_members} <= {m.id for m in members}, "nested group's members are Engineering's members")

    everything = await client.groups.by_group_id(engineering).transitive_members.get()
    kinds = {type(member).__name__ for member in everything.value}
    check("Group" in kinds or len(everything.value) == 100, f"uncast transitiveMembers decode by @odata.type: {sorted(kinds)}")


async def assign_and_remove(client, users):
    print("assignLicense: add, remove, errors")
    visio = uuid.UUID(VISIOCLIENT)
    candidate = next(
        user
        for user in users
        if user.usage_location and user.account_enabled and all(lic.sku_id != visio for lic in user.assigned_licenses)
    )

    async def visio_consumed():
        skus = await client.subscribed_skus.get()
        return next(sku.consumed_units for sku in skus.value if sku.sku_part_number == "VISIOCLIENT")

    before = await visio_consumed()
    body = AssignLicensePostRequestBody(add_licenses=[AssignedLicense(sku_id=visio, disabled_plans=[])], remove_licenses=[])
    result = await client.users.by_user_id(candidate.user_principal_name).assign_license.post(body)
    check(result.id == candidate.id, "assignLicense answers with the user")
    check(await visio_consumed() == before + 1, "a seat is consumed")
    body = AssignLicensePostRequestBody(add_licenses=[], remove_licenses=[visio])
    await client.users.by_user_id(candidate.id).assign_license.post(body)
    check(await visio_consumed() == before, "the seat is freed")

    homeless = next((user for user in users if not user.usage_location), None)
    if homeless is not None:
        try:
            body = AssignLicensePostRequestBody(add_licenses=[AssignedLicense(sku_id=visio, disabled_plans=[])], remove_licenses=[])
            await client.users.by_user_id(homeless.id).assign_license.post(body)
            check(False, "no usage location must fail")
        except ODataError as error:
            check(error.response_status_code == 400, "no usage location: 400")
            check(error.error.code == "Request_BadRequest", f"error code {error.error.code}")
            check(
                error.error.message == "License assignment cannot be done for user with invalid usage location.",
                f"error message: {error.error.message}",
            )
    try:
        await client.users.by_user_id("nobody@contoso.com").get()
        check(False, "an unknown user must be a 404")
    except ODataError as error:
        check(error.response_status_code == 404 and error.error.code == "Request_ResourceNotFound", "unknown user: 404 Request_ResourceNotFound")
    return candidate


async def batch(client, candidate, users):
    print("JSON batch: parallel, answered out of order")
    visio = uuid.UUID(VISIOCLIENT)
    readers = [
        BatchRequestItem(request_information=client.users.by_user_id(user.id).to_get_request_information())
        for user in users[:8]
        if user.id != candidate.id
    ]
    missing = BatchRequestItem(request_information=client.users.by_user_id("nobody@contoso.com").to_get_request_information())
    add = BatchRequestItem(
        request_information=client.users.by_user_id(candidate.id).assign_license.to_post_request_information(
            AssignLicensePostRequestBody(add_licenses=[AssignedLicense(sku_id=visio, disabled_plans=[])], remove_licenses=[])
        )
    )
    requested = readers + [missing, add]
    content = BatchRequestContent()
    for item in requested:
        content.add_request(item.id, item)
    response = await client.batch.post(batch_request_content=content)
    statuses = response.get_response_status_codes()
    check(all(statuses.get(item.id) == 200 for item in readers), f"batch GETs: {[statuses.get(item.id) for item in readers]}")
    check(statuses.get(missing.id) == 404, f"batch unknown user: {statuses.get(missing.id)}")
    check(statuses.get(add.id) == 200, f"batch assignLicense add: {statuses.get(add.id)}")
    answered = list(response.responses or {})
    check(
        sorted(answered) == sorted(item.id for item in requested) and answered != [item.id for item in requested],
        "the responses come back in another order than requested, and the SDK matches each to its request by id",
    )
    # msgraph-core 1.5.2 reads an item's body only when it is a base64 string (get_bytes_value), so
    # the JSON bodies Graph sends inline come back as None from the SDK, whatever the server; its
    # response_body() cannot parse any item (its own tests expect the ValueError). Statuses and
    # headers are what the SDK exposes.
    item = response.get_response_by_id(missing.id)
    check(item is not None and (item.content_type or "").startswith("application/json"), "batch items carry their Content-Type")
    await client.users.by_user_id(candidate.id).assign_license.post(
        AssignLicensePostRequestBody(add_licenses=[], remove_licenses=[visio])
    )

    print("JSON batch: msgraph-core's depends_on")
    # msgraph-core 1.5.2 writes the dependency as "depends_on", which Graph ignores ("dependsOn" is
    # the key; msgraph-sdk-python-core PR #996): the batch runs as a parallel one, so a request
    # "depending" on a failed one gets its own answer rather than 424.
    failing = BatchRequestItem(request_information=client.users.by_user_id("nobody@contoso.com").to_get_request_information())
    follower = BatchRequestItem(
        request_information=client.users.by_user_id(candidate.id).to_get_request_information(), depends_on=[failing]
    )
    content = BatchRequestContent()
    for item in (failing, follower):
        content.add_request(item.id, item)
    response = await client.batch.post(batch_request_content=content)
    statuses = response.get_response_status_codes()
    check(statuses.get(failing.id) == 404, f"batch failing request: {statuses.get(failing.id)}")
    check(statuses.get(follower.id) == 200, f"the SDK's depends_on is ignored, as Graph ignores it: {statuses.get(follower.id)}")


async def token_cache_and_refresh(client):
    print("MSAL token cache and refresh")
    started = time.monotonic()
    for _ in range(10):
        await client.subscribed_skus.get()
        await client.users.get(
            request_configuration=RequestConfiguration(
                query_parameters=UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(top=1, select=["id"])
            )
        )
    cached_for = TOKEN_LIFETIME - 300  # MSAL treats a token with under five minutes left as expired
    check(time.monotonic() - started < cached_for, "twenty calls made while the first token is fresh")
    check(token_requests() == 1, f"one token request for twenty calls (saw {token_requests()})")
    time.sleep(max(0.0, cached_for - (time.monotonic() - started)) + 1.5)
    await client.subscribed_skus.get()
    check(token_requests() == 2, f"the token was refreshed once it aged (saw {token_requests()} token requests)")


async def users_delta_round(client, first_request):
    """Every user of one delta round, following nextLinks; and the round's deltaLink."""
    users = []
    page = await first_request()
    while True:
        users.extend(page.value or [])
        if page.odata_next_link:
            check(page.odata_delta_link is None, "a delta page has a nextLink or a deltaLink, not both")
            page = await client.users.delta.with_url(page.odata_next_link).get()
            continue
        return users, page.odata_delta_link


async def start_users_delta(client):
    print("users delta, first round")
    config = RequestConfiguration(query_parameters=DeltaRequestBuilder.DeltaRequestBuilderGetQueryParameters(select=["id", "department"]))
    config.headers.add("Prefer", "odata.maxpagesize=999")
    users, delta_link = await users_delta_round(client, lambda: client.users.delta.get(request_configuration=config))
    check(len(users) == USERS and len({user.id for user in users}) == USERS, f"the first delta round lists every user once ({len(users)})")
    check(delta_link is not None and "$deltatoken=" in delta_link, "the round ends with a deltaLink")
    return delta_link


async def follow_users_delta(client, delta_link, users):
    print("users delta, after a PATCH and license writes")
    mover = users[1]
    await client.users.by_user_id(mover.id).patch(User(department="Delta Check"))
    changed, next_link = await users_delta_round(client, lambda: client.users.delta.with_url(delta_link).get())
    check([user.id for user in changed] == [mover.id], f"only the PATCHed user comes back: {[user.id for user in changed]}")
    check(changed and changed[0].department == "Delta Check", "with the new value")
    again, _ = await users_delta_round(client, lambda: client.users.delta.with_url(next_link).get())
    check(again == [], f"then nothing: {len(again)} users")


async def main():
    requests.delete(f"{BASE}/_simulator/requests", verify=CA_FILE, timeout=30)
    client = make_client()
    await token_cache_and_refresh(client)
    users = await list_users(client)
    await read_skus(client)
    await read_groups(client)
    delta_link = await start_users_delta(client)
    candidate = await assign_and_remove(client, users)
    await batch(client, candidate, users)
    await follow_users_delta(client, delta_link, users)
    if failures:
        print(f"\n{len(failures)} fidelity check(s) failed:")
        for failure in failures:
            print(f"  - {failure}")
        return 1
    print("\nfidelity check passed")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
