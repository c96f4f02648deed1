using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Marquee.Catalog.Data.Migrations.Sqlite
{
    /// <inheritdoc />
    internal partial class CatalogueDetails : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<long>(
                name: "ChangedTicks",
                table: "catalog_titles",
                type: "INTEGER",
                nullable: false,
                defaultValue: 0L);

            migrationBuilder.AddColumn<string>(
                name: "DefaultLanguage",
                table: "catalog_titles",
                type: "TEXT",
                maxLength: 20,
                nullable: false,
                defaultValue: "en");

            migrationBuilder.AddColumn<bool>(
                name: "Exclusive",
                table: "catalog_titles",
                type: "INTEGER",
                nullable: false,
                defaultValue: false);

            migrationBuilder.AddColumn<long>(
                name: "Plays",
                table: "catalog_titles",
                type: "INTEGER",
                nullable: false,
                defaultValue: 0L);

            migrationBuilder.AddColumn<DateOnly>(
                name: "ReleaseDate",
                table: "catalog_titles",
                type: "TEXT",
                nullable: true);

            migrationBuilder.AddColumn<int>(
                name: "Season",
                table: "catalog_titles",
                type: "INTEGER",
                nullable: true);

            migrationBuilder.CreateTable(
                name: "catalog_age_ratings",
                columns: table => new
                {
                    TitleId = table.Column<Guid>(type: "TEXT", nullable: false),
                    Territory = table.Column<string>(type: "TEXT", maxLength: 2, nullable: false),
                    MinimumAge = table.Column<int>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_catalog_age_ratings", x => new { x.TitleId, x.Territory });
                    table.ForeignKey(
                        name: "FK_catalog_age_ratings_catalog_titles_TitleId",
                        column: x => x.TitleId,
                        principalTable: "catalog_titles",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "catalog_people",
                columns: table => new
                {
                    Id = table.Column<Guid>(type: "TEXT", nullable: false),
                    Name = table.Column<string>(type: "TEXT", maxLength: 200, nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_catalog_people", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "catalog_search_misses",
                columns: table => new
                {
                    Id = table.Column<Guid>(type: "TEXT", nullable: false),
                    Query = table.Column<string>(type: "TEXT", maxLength: 200, nullable: false),
                    At = table.Column<long>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_catalog_search_misses", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "catalog_title_genres",
                columns: table => new
                {
                    TitleId = table.Column<Guid>(type: "TEXT", nullable: false),
                    Slug = table.Column<string>(type: "TEXT", maxLength: 100, nullable: false),
                    Name = table.Column<string>(type: "TEXT", maxLength: 100, nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_catalog_title_genres", x => new { x.TitleId, x.Slug });
                    table.ForeignKey(
                        name: "FK_catalog_title_genres_catalog_titles_TitleId",
                        column: x => x.TitleId,
                        principalTable: "catalog_titles",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "catalog_title_tags",
                columns: table => new
                {
                    TitleId = table.Column<Guid>(type: "TEXT", nullable: false),
                    Tag = table.Column<string>(type: "TEXT", maxLength: 100, nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_catalog_title_tags", x => new { x.TitleId, x.Tag });
                    table.ForeignKey(
                        name: "FK_catalog_title_tags_catalog_titles_TitleId",
                        column: x => x.TitleId,
                        principalTable: "catalog_titles",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "catalog_title_texts",
                columns: table => new
                {
                    TitleId = table.Column<Guid>(type: "TEXT", nullable: false),
                    Language = table.Column<string>(type: "TEXT", maxLength: 20, nullable: false),
                    Name = table.Column<string>(type: "TEXT", maxLength: 300, nullable: false),
                    Synopsis = table.Column<string>(type: "TEXT", maxLength: 4000, nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_catalog_title_texts", x => new { x.TitleId, x.Language });
                    table.ForeignKey(
                        name: "FK_catalog_title_texts_catalog_titles_TitleId",
                        column: x => x.TitleId,
                        principalTable: "catalog_titles",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "catalog_credits",
                columns: table => new
                {
                    Id = table.Column<Guid>(type: "TEXT", nullable: false),
                    TitleId = table.Column<Guid>(type: "TEXT", nullable: false),
                    PersonId = table.Column<Guid>(type: "TEXT", nullable: false),
                    Role = table.Column<string>(type: "TEXT", maxLength: 20, nullable: false),
                    Character = table.Column<string>(type: "TEXT", maxLength: 200, nullable: true),
                    Position = table.Column<int>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_catalog_credits", x => x.Id);
                    table.ForeignKey(
                        name: "FK_catalog_credits_catalog_people_PersonId",
                        column: x => x.PersonId,
                        principalTable: "catalog_people",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Restrict);
                    table.ForeignKey(
                        name: "FK_catalog_credits_catalog_titles_TitleId",
                        column: x => x.TitleId,
                        principalTable: "catalog_titles",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "IX_catalog_titles_ChangedTicks",
                table: "catalog_titles",
                column: "ChangedTicks");

            migrationBuilder.CreateIndex(
                name: "IX_catalog_credits_PersonId",
                table: "catalog_credits",
                column: "PersonId");

            migrationBuilder.CreateIndex(
                name: "IX_catalog_credits_TitleId",
                table: "catalog_credits",
                column: "TitleId");

            migrationBuilder.CreateIndex(
                name: "IX_catalog_people_Name",
                table: "catalog_people",
                column: "Name",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_catalog_search_misses_At",
                table: "catalog_search_misses",
                column: "At");

            migrationBuilder.CreateIndex(
                name: "IX_catalog_title_genres_Slug",
                table: "catalog_title_genres",
                column: "Slug");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "catalog_age_ratings");

            migrationBuilder.DropTable(
                name: "catalog_credits");

            migrationBuilder.DropTable(
                name: "catalog_search_misses");

            migrationBuilder.DropTable(
                name: "catalog_title_genres");

            migrationBuilder.DropTable(
                name: "catalog_title_tags");

            migrationBuilder.DropTable(
                name: "catalog_title_texts");

            migrationBuilder.DropTable(
                name: "catalog_people");

            migrationBuilder.DropIndex(
                name: "IX_catalog_titles_ChangedTicks",
                table: "catalog_titles");

            migrationBuilder.DropColumn(
                name: "ChangedTicks",
                table: "catalog_titles");

            migrationBuilder.DropColumn(
                name: "DefaultLanguage",
                table: "catalog_titles");

            migrationBuilder.DropColumn(
                name: "Exclusive",
                table: "catalog_titles");

            migrationBuilder.DropColumn(
                name: "Plays",
                table: "catalog_titles");

            migrationBuilder.DropColumn(
                name: "ReleaseDate",
                table: "catalog_titles");

            migrationBuilder.DropColumn(
                name: "Season",
                table: "catalog_titles");
        }
    }
}
