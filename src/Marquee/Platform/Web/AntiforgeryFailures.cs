using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Diagnostics;

namespace Marquee.Platform.Web;

/// <summary>
/// R17: a state-changing form post without a valid anti-forgery token (a cross-site post, an expired form) answers
/// <b>400</b> before its endpoint runs, on every endpoint that asks for the check: problem details to programs
/// (<c>/api</c>, or a caller that accepts JSON but not HTML), a plain page to people. Without this the endpoints met the
/// failure on their own: a minimal-API form binding answered 400 with an empty body, which the pages' status-code
/// handler then re-executed as a <em>post</em> to the not-found page, itself refused for the same token: a 500.
/// Runs right after <c>UseAntiforgery</c>, which only records the outcome.
/// </summary>
internal static partial class AntiforgeryFailures
{
    public static IApplicationBuilder UseAntiforgeryFailures(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        if (context.Features.Get<IAntiforgeryValidationFeature>() is not { IsValid: false } failed
            || context.GetEndpoint()?.Metadata.GetMetadata<IAntiforgeryMetadata>() is not { RequiresValidation: true })
        {
            await next(context);
            return;
        }

        var logger = context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(AntiforgeryFailures).FullName!);
        LogRefused(logger, context.Request.Method, context.Request.Path, failed.Error?.Message);
        if (context.Features.Get<IStatusCodePagesFeature>() is { } pages)
        {
            pages.Enabled = false; // this answer is the page: no re-execution of /not-found as a post
        }

        context.Response.StatusCode = StatusCodes.Status400BadRequest;
        context.Response.Headers.CacheControl = "no-store";
        if (WantsProblem(context.Request))
        {
            var problems = context.RequestServices.GetRequiredService<IProblemDetailsService>();
            if (await problems.TryWriteAsync(new ProblemDetailsContext
                {
                    HttpContext = context,
                    ProblemDetails =
                    {
                        Status = StatusCodes.Status400BadRequest,
                        Title = "Anti-forgery token missing or invalid",
                        Detail = "This request needs the anti-forgery token of a form served by this site. Reload the form and send it again.",
                        Type = "https://tools.ietf.org/html/rfc9110#section-15.5.1",
                    },
                }))
            {
                return;
            }
        }

        context.Response.ContentType = "text/html; charset=utf-8";
        await context.Response.WriteAsync(Page, context.RequestAborted);
    });

    /// <summary>Programs get problem details: the API, and callers that ask for JSON rather than a page.</summary>
    internal static bool WantsProblem(HttpRequest request)
    {
        if (request.Path.StartsWithSegments("/api"))
        {
            return true;
        }

        var accept = request.Headers.Accept.ToString();
        return accept.Contains("json", StringComparison.OrdinalIgnoreCase) && !accept.Contains("text/html", StringComparison.OrdinalIgnoreCase);
    }

    private static readonly string Page =
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">" +
        "<title>Form expired · Marquee</title><link rel=\"stylesheet\" href=\"/css/site.css\"></head><body><main class=\"prose\">" +
        "<h1>This form could not be sent</h1>" +
        "<p>It has expired, or it did not come from this site, so nothing was changed. Go back, reload the page and try again.</p>" +
        "<p><a href=\"/\">Back to the home page</a></p></main></body></html>";

    [LoggerMessage(EventId = 4001, Level = LogLevel.Warning, Message = "{Method} {Path}: anti-forgery validation failed ({Reason}); answered 400")]
    private static partial void LogRefused(ILogger logger, string method, PathString path, string? reason);
}
