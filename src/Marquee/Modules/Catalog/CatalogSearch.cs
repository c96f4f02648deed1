using Lucene.Net.Analysis;
using Lucene.Net.Analysis.Core;
using Lucene.Net.Analysis.Miscellaneous;
using Lucene.Net.Analysis.Standard;
using Lucene.Net.Analysis.TokenAttributes;
using Lucene.Net.Documents;
using Lucene.Net.Index;
using Lucene.Net.Search;
using Lucene.Net.Store;
using Lucene.Net.Util;
using Marquee.Catalog.Data;
using Marquee.Platform;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using LuceneDirectory = Lucene.Net.Store.Directory;

namespace Marquee.Catalog;

/// <summary>One search hit: a title and its final score (relevance weighted by popularity).</summary>
internal sealed record SearchHit(Guid TitleId, float Score);

/// <summary>
/// The catalogue's full-text index (Lucene.Net), kept beside the database in <c>&lt;DataDir&gt;/search/catalog</c>. The
/// database is the truth: the index is updated right after each of Catalog's own writes, caught up every
/// <see cref="CatchUpInterval"/> from rows whose <c>ChangedTicks</c> moved (changes from other processes, plays), and rebuilt
/// from the database when it is missing, unreadable, of an older layout, or does not hold as many titles as the database.
/// Searches match every word of the query, each exactly, as a prefix, or within one or two typos (fuzzy), in the names
/// (every language), people, genres and tags, and (exactly) in synopses; hits are ranked by relevance weighted by plays.
/// </summary>
internal sealed class CatalogSearch(IServiceScopeFactory scopes, IOptions<MarqueeOptions> options, ILogger<CatalogSearch> logger) : IDisposable
{
    public static readonly TimeSpan CatchUpInterval = TimeSpan.FromSeconds(30);

    /// <summary>Rows changed this long before the last one indexed are indexed again (clocks and commit order across processes).</summary>
    private static readonly long Overlap = TimeSpan.FromMinutes(5).Ticks;

    private const string Layout = "1";
    private const LuceneVersion Version = LuceneVersion.LUCENE_48;
    private readonly SemaphoreSlim gate = new(1, 1);
    private readonly Analyzer analyzer = new FoldingAnalyzer();
    private LuceneDirectory? directory;
    private IndexWriter? writer;
    private SearcherManager? searchers;
    private long indexedTicks;

    public string Folder => Path.Combine(options.Value.FullDataDir, "search", "catalog");

    /// <summary>Opens the index, rebuilding it from the database when it is missing or stale (once; later calls return at once).</summary>
    public async Task EnsureReadyAsync(CancellationToken cancellationToken)
    {
        if (searchers is not null)
        {
            return;
        }

        await gate.WaitAsync(cancellationToken);
        try
        {
            if (searchers is null)
            {
                await OpenAsync(cancellationToken);
            }
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>(Re)indexes these titles from the database, now.</summary>
    public async Task IndexAsync(IReadOnlyCollection<Guid> titleIds, CancellationToken cancellationToken)
    {
        await EnsureReadyAsync(cancellationToken);
        await gate.WaitAsync(cancellationToken);
        try
        {
            var docs = await LoadAsync(q => q.Where(t => titleIds.Contains(t.Id)), cancellationToken);
            foreach (var d in docs)
            {
                writer!.UpdateDocument(new Term("id", d.Id.ToString()), d.ToDocument());
            }

            Commit();
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>Indexes the titles changed since the last catch-up (with an overlap).</summary>
    public async Task CatchUpAsync(CancellationToken cancellationToken)
    {
        await EnsureReadyAsync(cancellationToken);
        await gate.WaitAsync(cancellationToken);
        try
        {
            await CatchUpLockedAsync(cancellationToken);
        }
        finally
        {
            gate.Release();
        }
    }

    private async Task CatchUpLockedAsync(CancellationToken cancellationToken)
    {
        var since = indexedTicks - Overlap;
        var docs = await LoadAsync(q => q.Where(t => t.ChangedTicks > since), cancellationToken);
        if (docs.Count == 0)
        {
            return;
        }

        foreach (var d in docs)
        {
            writer!.UpdateDocument(new Term("id", d.Id.ToString()), d.ToDocument());
        }

        indexedTicks = Math.Max(indexedTicks, docs.Max(d => d.ChangedTicks));
        Commit();
    }

    /// <summary>The best <paramref name="take"/> hits for <paramref name="query"/> (empty for a query without words).</summary>
    public async Task<IReadOnlyList<SearchHit>> SearchAsync(string query, int take, CancellationToken cancellationToken)
    {
        await EnsureReadyAsync(cancellationToken);
        var words = Words(query).Take(8).ToList();
        if (words.Count == 0)
        {
            return [];
        }

        var all = new BooleanQuery();
        foreach (var word in words)
        {
            var any = new BooleanQuery();
            foreach (var (field, weight) in new[] { ("name", 4f), ("people", 2f), ("tags", 2f) })
            {
                any.Add(new TermQuery(new Term(field, word)) { Boost = 3 * weight }, Occur.SHOULD);
                if (word.Length >= 2)
                {
                    any.Add(new PrefixQuery(new Term(field, word)) { Boost = 2 * weight }, Occur.SHOULD);
                }

                if (word.Length >= 4)
                {
                    any.Add(new FuzzyQuery(new Term(field, word), word.Length >= 8 ? 2 : 1, prefixLength: 1) { Boost = weight }, Occur.SHOULD);
                }
            }

            any.Add(new TermQuery(new Term("synopsis", word)) { Boost = 0.5f }, Occur.SHOULD);
            all.Add(any, Occur.MUST);
        }

        var searcher = searchers!.Acquire();
        try
        {
            var top = searcher.Search(all, Math.Clamp(take, 1, 200) * 4);
            return [.. top.ScoreDocs
                .Select(sd =>
                {
                    var doc = searcher.Doc(sd.Doc);
                    var plays = doc.GetField("plays")?.GetInt64Value() ?? 0;
                    return new SearchHit(Guid.Parse(doc.Get("id")), sd.Score * (1f + (0.15f * MathF.Log(1 + plays))));
                })
                .OrderByDescending(h => h.Score)];
        }
        finally
        {
            searchers.Release(searcher);
        }
    }

    /// <summary>The words of a text as the index holds them: lower case, accents folded.</summary>
    internal IEnumerable<string> Words(string text)
    {
        var words = new List<string>();
        using var stream = analyzer.GetTokenStream("name", text ?? "");
        var term = stream.AddAttribute<ICharTermAttribute>();
        stream.Reset();
        while (stream.IncrementToken())
        {
            words.Add(term.ToString());
        }

        stream.End();
        return words.Distinct(StringComparer.Ordinal);
    }

    private async Task OpenAsync(CancellationToken cancellationToken)
    {
        System.IO.Directory.CreateDirectory(Folder);
        try
        {
            directory = FSDirectory.Open(Folder);
            writer = new IndexWriter(directory, new IndexWriterConfig(Version, analyzer) { OpenMode = OpenMode.CREATE_OR_APPEND });
        }
        catch (LockObtainFailedException ex)
        {
            // Another web process on this data folder holds the index: keep one in memory, built from the database.
            logger.LogWarning(ex, "The search index in {Folder} is in use by another process; this process keeps its own in memory.", Folder);
            directory?.Dispose();
            directory = new RAMDirectory();
            writer = new IndexWriter(directory, new IndexWriterConfig(Version, analyzer));
        }
        catch (Exception ex) when (ex is IOException or CorruptIndexException or IndexFormatTooOldException or IndexFormatTooNewException)
        {
            logger.LogWarning(ex, "The search index in {Folder} cannot be read; it is rebuilt from the database.", Folder);
            writer?.Dispose();
            directory?.Dispose();
            System.IO.Directory.Delete(Folder, recursive: true);
            System.IO.Directory.CreateDirectory(Folder);
            directory = FSDirectory.Open(Folder);
            writer = new IndexWriter(directory, new IndexWriterConfig(Version, analyzer) { OpenMode = OpenMode.CREATE });
        }

        try
        {
            await LoadIndexAsync(cancellationToken);
        }
        catch (Exception ex) when (directory is FSDirectory && ex is IOException or CorruptIndexException)
        {
            // A segment the last commit names could not be read: seen when `marquee ingest` opened the index while a
            // server on the same data folder was committing to it (R1 harness). The files may be another process's
            // work in progress, so they are left alone: this process keeps its own index in memory, built from the
            // database (the index is derived data), as when the lock is taken.
            logger.LogWarning(ex, "The search index in {Folder} could not be read; this process keeps its own in memory.", Folder);
            searchers?.Dispose();
            searchers = null;
            try
            {
                writer?.Rollback();
            }
            catch (Exception rollback) when (rollback is IOException or CorruptIndexException or ObjectDisposedException)
            {
                logger.LogDebug(rollback, "Closing the unreadable search index failed.");
            }

            directory?.Dispose();
            directory = new RAMDirectory();
            writer = new IndexWriter(directory, new IndexWriterConfig(Version, analyzer));
            await LoadIndexAsync(cancellationToken);
        }
    }

    /// <summary>Checks the open index against the database (rebuilding it when stale) and opens its searchers.</summary>
    private async Task LoadIndexAsync(CancellationToken cancellationToken)
    {
        var writer = this.writer!;
        var stamp = writer.CommitData ?? new Dictionary<string, string>();
        var (count, maxTicks) = await DatabaseStampAsync(cancellationToken);
        var upToDate = stamp.TryGetValue("layout", out var layout) && layout == Layout
            && writer.NumDocs == count
            && stamp.TryGetValue("ticks", out var t) && long.TryParse(t, out indexedTicks);
        if (!upToDate)
        {
            logger.LogInformation("Rebuilding the catalogue search index in {Folder} from the database ({Count} titles).", Folder, count);
            writer.DeleteAll();
            var docs = await LoadAsync(q => q, cancellationToken);
            foreach (var d in docs)
            {
                writer.AddDocument(d.ToDocument());
            }

            indexedTicks = maxTicks;
            Commit();
        }

        searchers = new SearcherManager(writer, applyAllDeletes: true, searcherFactory: null);
        if (upToDate && maxTicks > indexedTicks)
        {
            await CatchUpLockedAsync(cancellationToken);
        }
    }

    private void Commit()
    {
        writer!.SetCommitData(new Dictionary<string, string>
        {
            ["layout"] = Layout,
            ["ticks"] = indexedTicks.ToString(System.Globalization.CultureInfo.InvariantCulture),
        });
        writer.Commit();
        searchers?.MaybeRefreshBlocking();
    }

    private async Task<(int Count, long MaxTicks)> DatabaseStampAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<CatalogDb>();
        var count = await db.Titles.CountAsync(cancellationToken);
        var max = count == 0 ? 0 : await db.Titles.MaxAsync(t => t.ChangedTicks, cancellationToken);
        return (count, max);
    }

    private async Task<List<IndexedTitle>> LoadAsync(Func<IQueryable<Title>, IQueryable<Title>> filter, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<CatalogDb>();
        var rows = await filter(db.Titles.AsNoTracking())
            .Include(t => t.Texts).Include(t => t.Genres).Include(t => t.Tags).Include(t => t.Credits).ThenInclude(c => c.Person)
            .AsSplitQuery().ToListAsync(cancellationToken);
        return [.. rows.Select(t => new IndexedTitle(
            t.Id,
            [t.Name, .. t.Texts.Select(x => x.Name), t.Collection ?? ""],
            [t.Synopsis ?? "", .. t.Texts.Select(x => x.Synopsis ?? "")],
            [.. t.Credits.Select(c => c.Person?.Name ?? "")],
            [.. t.Tags.Select(x => x.Tag), .. t.Genres.Select(g => g.Name)],
            t.Plays,
            t.ChangedTicks))];
    }

    public void Dispose()
    {
        searchers?.Dispose();
        writer?.Dispose();
        directory?.Dispose();
        analyzer.Dispose();
        gate.Dispose();
    }

    private sealed record IndexedTitle(Guid Id, string[] Names, string[] Synopses, string[] People, string[] Tags, long Plays, long ChangedTicks)
    {
        public Document ToDocument()
        {
            var doc = new Document { new StringField("id", Id.ToString(), Field.Store.YES), new StoredField("plays", Plays) };
            foreach (var (field, values) in new[] { ("name", Names), ("synopsis", Synopses), ("people", People), ("tags", Tags) })
            {
                foreach (var v in values.Where(v => v.Length > 0))
                {
                    doc.Add(new TextField(field, v, Field.Store.NO));
                }
            }

            return doc;
        }
    }

    /// <summary>Standard tokens, lower-cased, accents folded (é to e), so that "Amelie" finds "Amélie".</summary>
    private sealed class FoldingAnalyzer : Analyzer
    {
        protected override TokenStreamComponents CreateComponents(string fieldName, TextReader reader)
        {
            var source = new StandardTokenizer(Version, reader);
            TokenStream stream = new LowerCaseFilter(Version, source);
            stream = new ASCIIFoldingFilter(stream);
            return new TokenStreamComponents(source, stream);
        }
    }
}

/// <summary>Keeps the search index fresh in a web process: opens (or rebuilds) it at start, then catches up periodically.</summary>
internal sealed class CatalogSearchWorker(CatalogSearch search, TimeProvider time, ILogger<CatalogSearchWorker> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await search.CatchUpAsync(stoppingToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                logger.LogWarning(ex, "Catching the search index up failed; trying again in {Interval}.", CatalogSearch.CatchUpInterval);
            }

            try
            {
                await Task.Delay(CatalogSearch.CatchUpInterval, time, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }
}
