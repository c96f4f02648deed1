using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Marquee.Media.Data.Migrations.Postgres
{
    /// <inheritdoc />
    internal partial class UniqueLibraryPaths : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            // Renditions recorded twice by two workers before this index existed: the later entries go (an entry only
            // records a published file, which stays).
            const string duplicates = "SELECT v.\"ItemId\" FROM media.library_versions v WHERE EXISTS (SELECT 1 FROM media.library_versions w WHERE w.\"Path\" = v.\"Path\" AND w.\"ItemId\" < v.\"ItemId\") AND v.\"ItemId\" IN (SELECT \"Id\" FROM media.library_items WHERE \"Kind\" = 'Rendition')";
            migrationBuilder.Sql($"DELETE FROM media.library_tags WHERE \"ItemId\" IN ({duplicates});");
            migrationBuilder.Sql($"DELETE FROM media.library_items WHERE \"Id\" IN ({duplicates});");
            migrationBuilder.Sql("DELETE FROM media.library_versions WHERE \"ItemId\" NOT IN (SELECT \"Id\" FROM media.library_items);");
            migrationBuilder.CreateIndex(
                name: "IX_library_versions_Path",
                schema: "media",
                table: "library_versions",
                column: "Path",
                unique: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_library_versions_Path",
                schema: "media",
                table: "library_versions");
        }
    }
}
