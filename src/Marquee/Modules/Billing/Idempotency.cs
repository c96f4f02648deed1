using System.ComponentModel.DataAnnotations;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Marquee.Billing.Data;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.AspNetCore.Mvc;
using JsonOptions = Microsoft.AspNetCore.Http.Json.JsonOptions;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Marquee.Billing;

/// <summary>
/// Money-moving requests: each carries an <c>Idempotency-Key</c> header, stored with a hash of the request and the answer
/// in the same transaction as the effect. The same key with the same request gets the stored answer (no second effect);
/// the same key with another request gets 422.
/// </summary>
internal static class Idempotent
{
    public const string Header = "Idempotency-Key";

    public static async Task<IResult> RunAsync<TIn>(HttpContext http, string scope, Func<IServiceProvider, TIn, string, CancellationToken, Task<Answer>> effect)
    {
        var ct = http.RequestAborted;
        var key = http.Request.Headers[Header].ToString();
        if (string.IsNullOrWhiteSpace(key) || key.Length > 200)
        {
            return TypedResults.Problem(title: "Idempotency-Key required", detail: "Send an Idempotency-Key header (1 to 200 characters), the same one when you retry this request.", statusCode: 400);
        }

        using var buffer = new MemoryStream();
        await http.Request.Body.CopyToAsync(buffer, ct);
        var body = buffer.ToArray();
        var hash = Hash($"{http.Request.Method} {http.Request.Path}", body);

        var services = http.RequestServices;
        var json = services.GetRequiredService<IOptions<JsonOptions>>().Value.SerializerOptions;
        TIn? input = default;
        IResult? invalid = null;
        try
        {
            input = JsonSerializer.Deserialize<TIn>(body, json);
        }
        catch (JsonException ex)
        {
            invalid = TypedResults.Problem(title: "Invalid JSON", detail: ex.Message, statusCode: 400);
        }

        if (invalid is null && input is null)
        {
            invalid = TypedResults.Problem(title: "A body is required", statusCode: 400);
        }

        var results = new List<ValidationResult>();
        if (invalid is null && !Validator.TryValidateObject(input!, new ValidationContext(input!), results, validateAllProperties: true))
        {
            invalid = TypedResults.ValidationProblem(results.SelectMany(r => r.MemberNames.DefaultIfEmpty("").Select(m => (m, r.ErrorMessage ?? "Invalid.")))
                .GroupBy(x => x.m).ToDictionary(g => g.Key, g => g.Select(x => x.Item2).ToArray()));
        }

        Stored? stored;
        try
        {
            stored = await ExecuteAsync(services, scope, key, hash, invalid is null ? (sp, c) => effect(sp, input!, key, c) : null, ct);
        }
        catch (GatewayUnavailableException ex)
        {
            // Nothing was saved (the effect and its idempotency record share one transaction); the gateway may have acted,
            // and the same key sent again finds out from it without acting twice.
            services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(Idempotent)).LogWarning(ex, "Payment gateway unavailable for {Scope}", scope);
            http.Response.Headers.RetryAfter = "5";
            return TypedResults.Problem(title: "Payment pending",
                detail: "The payment service did not answer in time; nothing was recorded here. Send the same request again with the same Idempotency-Key: you will not be charged twice.",
                statusCode: 503);
        }

        if (stored is null)
        {
            return invalid!;
        }

        return stored.Mismatch
            ? TypedResults.Problem(title: "Idempotency-Key reused", detail: "This Idempotency-Key was used with a different request.", statusCode: 422)
            : new StoredResult(stored.Status, stored.Json, stored.Location, stored.Replayed);
    }

    /// <summary>
    /// The answer stored for the key, or the effect's (stored with it, in one transaction); null when there is none and no
    /// effect to run. When saving fails (a race on the invoice counter, the one open subscription, a plan change), the
    /// effect runs again in a fresh scope, for up to <see cref="BillingOptions.RacePatience"/>: the gateway answers the same charge for the same key, so nothing is charged
    /// twice; a charge that the final answer does not use is refunded.
    /// </summary>
    public static async Task<Stored?> ExecuteAsync(IServiceProvider services, string scope, string key, string hash, Func<IServiceProvider, CancellationToken, Task<Answer>>? effect, CancellationToken ct)
    {
        var unsafeSkip = services.GetRequiredService<IOptions<BillingOptions>>().Value.UnsafeSkipIdempotency;
        var patience = services.GetRequiredService<IOptions<BillingOptions>>().Value.RacePatience;
        if (unsafeSkip)
        {
            return effect is null ? null : await UnsafeAsync(services, effect, ct);
        }

        if (await StoredAsync(services.GetRequiredService<BillingDb>(), scope, key, hash, ct) is { } replay)
        {
            return replay;
        }

        if (effect is null)
        {
            return null;
        }

        var json = services.GetRequiredService<IOptions<JsonOptions>>().Value.SerializerOptions;
        string? orphan = null;
        var time = TimeProvider.System; // contention is timed on the wall clock, whatever clock the business runs on (tests fake it)
        var started = time.GetTimestamp();
        for (var attempt = 0; attempt == 0 || time.GetElapsedTime(started) < patience; attempt++)
        {
            if (attempt > 0)
            {
                // Jittered, growing pauses: contenders for the same row (the invoice counter) stop colliding in lockstep.
                await Task.Delay(TimeSpan.FromMilliseconds(Random.Shared.Next(5, 25 * Math.Min(attempt, 8))), time, ct);
            }

            await using var fresh = attempt == 0 ? (AsyncServiceScope?)null : services.GetRequiredService<IServiceScopeFactory>().CreateAsyncScope();
            var sp = fresh?.ServiceProvider ?? services;
            var db = sp.GetRequiredService<BillingDb>();
            if (attempt > 0 && await StoredAsync(db, scope, key, hash, ct) is { } winner)
            {
                return winner; // a concurrent request with the same key won: its answer (and its charge) stand
            }

            var answer = await effect(sp, ct);
            var response = JsonSerializer.Serialize(answer.Body, answer.Body.GetType(), json);
            db.Idempotency.Add(new IdempotencyRecord
            {
                Scope = scope, Key = key, RequestHash = hash, Status = answer.Status, Response = response, Location = answer.Location,
                CreatedAt = sp.GetRequiredService<TimeProvider>().GetUtcNow(),
            });
            try
            {
                await db.SaveChangesAsync(ct);
            }
            catch (DbUpdateException)
            {
                orphan = answer.Compensate ?? orphan;
                continue;
            }

            if (orphan is not null && orphan != answer.Compensate)
            {
                await sp.GetRequiredService<IPaymentGateway>().RefundAsync(orphan, CancellationToken.None);
            }

            return new Stored(answer.Status, response, answer.Location, false, false);
        }

        // Still racing after all this time: nothing of the effect was saved. The outcome is stored as the key's answer first:
        // once it is, no request with this key can save an effect that uses the charge (the key is taken), so the charge
        // can be refunded safely, and a retry with the same key gets this answer instead of finding the charge unused.
        var busy = JsonSerializer.Serialize(new ProblemDetails
        {
            Status = 409, Title = "Busy",
            Detail = "The request could not be completed: nothing was recorded and any charge was refunded. Send it again with a new Idempotency-Key.",
        }, json);
        await using (var last = services.GetRequiredService<IServiceScopeFactory>().CreateAsyncScope())
        {
            var db = last.ServiceProvider.GetRequiredService<BillingDb>();
            db.Idempotency.Add(new IdempotencyRecord
            {
                Scope = scope, Key = key, RequestHash = hash, Status = 409, Response = busy, CreatedAt = last.ServiceProvider.GetRequiredService<TimeProvider>().GetUtcNow(),
            });
            try
            {
                await db.SaveChangesAsync(CancellationToken.None);
            }
            catch (DbUpdateException)
            {
                // A request with this key won: its answer and charge stand. (Another failure: nothing stored, nothing refunded;
                // the same key sent again runs the effect again and finds the same charge.)
                return await StoredAsync(services.GetRequiredService<IServiceScopeFactory>(), scope, key, hash, ct)
                    ?? new Stored(503, JsonSerializer.Serialize(new ProblemDetails { Status = 503, Title = "Busy", Detail = "Try again with the same Idempotency-Key." }, json), null, false, false);
            }
        }

        if (orphan is not null)
        {
            await services.GetRequiredService<IPaymentGateway>().RefundAsync(orphan, CancellationToken.None);
        }

        return new Stored(409, busy, null, false, false);
    }

    private static async Task<Stored?> StoredAsync(IServiceScopeFactory scopes, string scope, string key, string hash, CancellationToken ct)
    {
        await using var fresh = scopes.CreateAsyncScope();
        return await StoredAsync(fresh.ServiceProvider.GetRequiredService<BillingDb>(), scope, key, hash, ct);
    }

    /// <summary>The broken variant (<see cref="BillingOptions.UnsafeSkipIdempotency"/>): no stored answer, the effect every time.</summary>
    private static async Task<Stored> UnsafeAsync(IServiceProvider services, Func<IServiceProvider, CancellationToken, Task<Answer>> effect, CancellationToken ct)
    {
        var json = services.GetRequiredService<IOptions<JsonOptions>>().Value.SerializerOptions;
        for (var attempt = 0; ; attempt++)
        {
            await using var fresh = attempt == 0 ? (AsyncServiceScope?)null : services.GetRequiredService<IServiceScopeFactory>().CreateAsyncScope();
            var sp = fresh?.ServiceProvider ?? services;
            var answer = await effect(sp, ct);
            try
            {
                await sp.GetRequiredService<BillingDb>().SaveChangesAsync(ct);
                return new Stored(answer.Status, JsonSerializer.Serialize(answer.Body, answer.Body.GetType(), json), answer.Location, false, false);
            }
            catch (DbUpdateException) when (attempt < 4)
            {
            }
        }
    }

    internal sealed record Stored(int Status, string Json, string? Location, bool Replayed, bool Mismatch);

    private static async Task<Stored?> StoredAsync(BillingDb db, string scope, string key, string hash, CancellationToken ct)
    {
        var stored = await db.Idempotency.AsNoTracking().FirstOrDefaultAsync(r => r.Scope == scope && r.Key == key, ct);
        return stored is null ? null : new Stored(stored.Status, stored.Response, stored.Location, true, stored.RequestHash != hash);
    }

    public static string Hash(string request, ReadOnlySpan<byte> body) =>
        Convert.ToHexStringLower(SHA256.HashData([.. Encoding.UTF8.GetBytes(request + "\n"), .. body]));

    private sealed class StoredResult(int status, string json, string? location, bool replayed) : IResult
    {
        public async Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.StatusCode = status;
            httpContext.Response.ContentType = status >= 400 ? "application/problem+json" : "application/json; charset=utf-8";
            if (location is not null)
            {
                httpContext.Response.Headers.Location = location;
            }

            if (replayed)
            {
                httpContext.Response.Headers["Idempotent-Replayed"] = "true";
            }

            await httpContext.Response.WriteAsync(json);
        }
    }
}
