using Microsoft.Playwright;

namespace Marquee.BrowserTests.Support;

/// <summary>A page in its own browser context, with the errors the browser reported while it was open.</summary>
public sealed class BrowserSession : IAsyncDisposable
{
    /// <summary>
    /// Reports CSP violations as console errors, whatever text the browser gives its own report. Injected by the
    /// DevTools protocol, so the page's own CSP does not apply to it.
    /// </summary>
    private const string ReportCspViolations =
        "document.addEventListener('securitypolicyviolation', e => console.error(" +
        "`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || 'inline'} at ${e.sourceFile}:${e.lineNumber}`));";

    private readonly IBrowserContext context;
    private readonly List<string> errors = [];

    private BrowserSession(IBrowserContext context, IPage page)
    {
        this.context = context;
        Page = page;
        page.Console += (_, message) =>
        {
            if (message.Type == "error")
            {
                lock (errors)
                {
                    errors.Add($"console: {message.Text} ({message.Location})");
                }
            }
        };
        page.PageError += (_, error) =>
        {
            lock (errors)
            {
                errors.Add($"page error: {error}");
            }
        };
    }

    public IPage Page { get; }

    public IReadOnlyList<string> Errors
    {
        get
        {
            lock (errors)
            {
                return [.. errors];
            }
        }
    }

    internal static async Task<BrowserSession> StartAsync(IBrowserContext context)
    {
        await context.AddInitScriptAsync(ReportCspViolations);
        var page = await context.NewPageAsync();
        return new BrowserSession(context, page);
    }

    /// <summary>Goes to <paramref name="path"/> and waits until the page and its resources have loaded.</summary>
    /// <remarks>Heavy pages (the API reference's 3 MB single-page app) pass a longer <paramref name="timeout"/>: on a loaded
    /// 2-core CI machine with both test passes running, parsing it alone can take longer than the default 15 s.</remarks>
    public async Task<IResponse> GoAsync(string path, TimeSpan? timeout = null)
    {
        var response = await Page.GotoAsync(path, new PageGotoOptions { WaitUntil = WaitUntilState.Load, Timeout = (float?)timeout?.TotalMilliseconds })
                       ?? throw new InvalidOperationException($"No response for {path}.");
        return response;
    }

    /// <summary>Fails with every error the browser reported, if there was any, but those that contain one of <paramref name="expected"/>.</summary>
    public void AssertNoErrors(params string[] expected)
    {
        var reported = Errors.Where(e => !expected.Any(x => e.Contains(x, StringComparison.Ordinal))).ToList();
        Assert.True(reported.Count == 0, $"The browser reported errors on {Page.Url}:{Environment.NewLine}{string.Join(Environment.NewLine, reported)}");
    }

    public async ValueTask DisposeAsync() => await context.DisposeAsync();
}
