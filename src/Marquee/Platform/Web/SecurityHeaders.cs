namespace Marquee.Platform.Web;

/// <summary>Security headers on every response: pages, API, errors and media alike.</summary>
internal static class SecurityHeaders
{
    /// <remarks>
    /// <c>base-uri 'self'</c>, not <c>'none'</c>: every page has <c>&lt;base href="/"&gt;</c>, which Blazor needs and which
    /// relative asset addresses (<c>css/site.css</c>, <c>_framework/blazor.web.js</c>) resolve against. With
    /// <c>'none'</c> the browser ignores it, and on any page below the root (<c>/title/sintel</c>) the stylesheet and
    /// the script are fetched from the wrong address. <c>'self'</c> still forbids a base pointing elsewhere.
    /// <c>media-src</c> allows <c>data:</c> because hls.js gives each subtitle <c>&lt;track&gt;</c> it creates the source
    /// <c>data:,WEBVTT</c> (an empty WebVTT file; the cues are added by script).
    /// </remarks>
    internal const string ContentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; media-src 'self' data: blob:; " +
        "font-src 'self'; connect-src 'self'; worker-src 'self' blob:; object-src 'none'; base-uri 'self'; " +
        "frame-ancestors 'none'; form-action 'self'";

    /// <summary>
    /// The API reference page (Scalar) is a third-party single-page app. Its scripts are its own files plus one inline
    /// module script that carries a fresh nonce on every response; no <c>'unsafe-inline'</c> and no <c>'unsafe-eval'</c>
    /// for scripts (a library in it probes <c>Function('')</c> once and falls back when refused). Its components insert
    /// <c>&lt;style&gt;</c> elements at run time without a nonce, so styles alone need <c>'unsafe-inline'</c>.
    /// </summary>
    internal static string ReferencePagePolicy(string? nonce) =>
        $"default-src 'self'; script-src 'self'{(nonce is null ? "" : $" 'nonce-{nonce}'")}; style-src 'self' 'unsafe-inline'; " +
        "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; " +
        "frame-ancestors 'none'; form-action 'self'";

    public static IApplicationBuilder UseSecurityHeaders(this IApplicationBuilder app, bool hsts) => app.Use(async (context, next) =>
    {
        context.Response.OnStarting(() =>
        {
            var headers = context.Response.Headers;
            headers.XContentTypeOptions = "nosniff";
            headers["Referrer-Policy"] = "strict-origin-when-cross-origin";
            headers.XFrameOptions = "DENY";
            headers["Cross-Origin-Opener-Policy"] = "same-origin";
            headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), payment=()";
            headers.ContentSecurityPolicy = context.Request.Path.StartsWithSegments("/api/reference", StringComparison.OrdinalIgnoreCase)
                ? ReferencePagePolicy(context.Items[Scalar.AspNetCore.ScalarOptions.NonceHttpContextItemKey] as string)
                : ContentSecurityPolicy;
            if (hsts && context.Request.IsHttps)
            {
                headers.StrictTransportSecurity = "max-age=31536000; includeSubDomains";
            }

            return Task.CompletedTask;
        });
        await next(context);
    });
}
