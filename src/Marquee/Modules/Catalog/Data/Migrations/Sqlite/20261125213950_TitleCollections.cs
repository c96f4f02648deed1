using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Marquee.Catalog.Data.Migrations.Sqlite
{
    /// <inheritdoc />
    internal partial class TitleCollections : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "Collection",
                table: "catalog_titles",
                type: "TEXT",
                maxLength: 200,
                nullable: true);

            migrationBuilder.AddColumn<int>(
                name: "Number",
                table: "catalog_titles",
                type: "INTEGER",
                nullable: true);

            migrationBuilder.CreateIndex(
                name: "IX_catalog_titles_Collection_Number",
                table: "catalog_titles",
                columns: new[] { "Collection", "Number" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_catalog_titles_Collection_Number",
                table: "catalog_titles");

            migrationBuilder.DropColumn(
                name: "Collection",
                table: "catalog_titles");

            migrationBuilder.DropColumn(
                name: "Number",
                table: "catalog_titles");
        }
    }
}
