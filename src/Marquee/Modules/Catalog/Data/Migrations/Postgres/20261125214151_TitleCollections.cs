using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Marquee.Catalog.Data.Migrations.Postgres
{
    /// <inheritdoc />
    internal partial class TitleCollections : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "Collection",
                schema: "catalog",
                table: "titles",
                type: "character varying(200)",
                maxLength: 200,
                nullable: true);

            migrationBuilder.AddColumn<int>(
                name: "Number",
                schema: "catalog",
                table: "titles",
                type: "integer",
                nullable: true);

            migrationBuilder.CreateIndex(
                name: "IX_titles_Collection_Number",
                schema: "catalog",
                table: "titles",
                columns: new[] { "Collection", "Number" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_titles_Collection_Number",
                schema: "catalog",
                table: "titles");

            migrationBuilder.DropColumn(
                name: "Collection",
                schema: "catalog",
                table: "titles");

            migrationBuilder.DropColumn(
                name: "Number",
                schema: "catalog",
                table: "titles");
        }
    }
}
