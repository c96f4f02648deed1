namespace Marquee.Tests.Support;

/// <summary>Waits for work done elsewhere by polling with a deadline (tests never sleep a fixed time).</summary>
public static class Poll
{
    public static async Task<T> UntilAsync<T>(Func<Task<T>> probe, Func<T, bool> done, TimeSpan? timeout = null, string? what = null)
    {
        var deadline = DateTimeOffsetNow() + (timeout ?? TimeSpan.FromSeconds(20));
        T last;
        while (true)
        {
            last = await probe();
            if (done(last))
            {
                return last;
            }

            if (DateTimeOffsetNow() > deadline)
            {
                throw new TimeoutException($"Timed out waiting for {what ?? "the condition"}; last value: {last}");
            }

            await Task.Delay(50);
        }
    }

    private static DateTimeOffset DateTimeOffsetNow() => TimeProvider.System.GetUtcNow();
}
