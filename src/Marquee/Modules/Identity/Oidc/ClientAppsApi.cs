using Marquee.Platform.Web;

namespace Marquee.Identity.Oidc;

/// <summary>The console API behind /console/identity/apps: operators with the admin role register client applications.</summary>
internal static class ClientAppsApi
{
    public static void MapClientApps(this RouteGroupBuilder group)
    {
        var apps = group.MapGroup("/apps").RequireAuthorization(Policies.ConsoleAdmin).WithTags("Identity: client apps");

        apps.MapGet("", async (ClientApps clients, CancellationToken ct) => TypedResults.Ok(await clients.ListAsync(ct)))
            .WithName("ListClientApps")
            .WithSummary("The OpenID Connect client applications: id, name, type, redirect URIs, grant types.");

        apps.MapPost("", async (ClientAppInput input, ClientApps clients, HttpContext http, CancellationToken ct) =>
            {
                var errors = ClientApps.Check(input);
                if (errors.Count > 0)
                {
                    return (IResult)TypedResults.ValidationProblem(errors);
                }

                if (await clients.CreateAsync(input, RequestActor.Of(http), ct) is not { } created)
                {
                    return TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "Client id taken", detail: $"A client app with the id '{input.ClientId}' exists.");
                }

                return TypedResults.Created($"/api/identity/apps/{Uri.EscapeDataString(created.App.ClientId)}", created);
            })
            .WithName("CreateClientApp")
            .WithSummary("Registers a client application (public or confidential; grants authorization_code, refresh_token, device_code). A confidential client's secret is in this answer only. Audited.")
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status409Conflict);

        apps.MapDelete("/{clientId}", async (string clientId, ClientApps clients, HttpContext http, CancellationToken ct) =>
                await clients.DeleteAsync(clientId, RequestActor.Of(http), ct) ? Results.NoContent() : Results.Problem(statusCode: 404, title: "No such client app"))
            .WithName("DeleteClientApp")
            .WithSummary("Removes a client application with its authorizations and tokens. Audited.");
    }
}
