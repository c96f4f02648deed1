using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Marquee.Catalog.Data.Migrations.Postgres
{
    /// <inheritdoc />
    internal partial class CatalogueDetails : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<long>(
                name: "ChangedTicks",
                schema: "catalog",
                table: "titles",
                type: "bigint",
                nullable: false,
                defaultValue: 0L);

            migrationBuilder.AddColumn<string>(
                name: "DefaultLanguage",
                schema: "catalog",
                table: "titles",
                type: "character varying(20)",
                maxLength: 20,
                nullable: false,
                defaultValue: "en");

            migrationBuilder.AddColumn<bool>(
                name: "Exclusive",
                schema: "catalog",
                table: "titles",
                type: "boolean",
                nullable: false,
                defaultValue: false);

            migrationBuilder.AddColumn<long>(
                name: "Plays",
                schema: "catalog",
                table: "titles",
                type: "bigint",
                nullable: false,
                defaultValue: 0L);

            migrationBuilder.AddColumn<DateOnly>(
                name: "ReleaseDate",
                schema: "catalog",
                table: "titles",
                type: "date",
                nullable: true);

            migrationBuilder.AddColumn<int>(
                name: "Season",
                schema: "catalog",
                table: "titles",
                type: "integer",
                nullable: true);

            migrationBuilder.CreateTable(
                name: "age_ratings",
                schema: "catalog",
                columns: table => new
                {
                    TitleId = table.Column<Guid>(type: "uuid", nullable: false),
                    Territory = table.Column<string>(type: "character varying(2)", maxLength: 2, nullable: false),
                    MinimumAge = table.Column<int>(type: "integer", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_age_ratings", x => new { x.TitleId, x.Territory });
                    table.ForeignKey(
                        name: "FK_age_ratings_titles_TitleId",
                        column: x => x.TitleId,
                        principalSchema: "catalog",
                        principalTable: "titles",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "people",
                schema: "catalog",
                columns: table => new
                {
                    Id = table.Column<Guid>(type: "uuid", nullable: false),
                    Name = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_people", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "search_misses",
                schema: "catalog",
                columns: table => new
                {
                    Id = table.Column<Guid>(type: "uuid", nullable: false),
                    Query = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false),
                    At = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_search_misses", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "title_genres",
                schema: "catalog",
                columns: table => new
                {
                    TitleId = table.Column<Guid>(type: "uuid", nullable: false),
                    Slug = table.Column<string>(type: "character varying(100)", maxLength: 100, nullable: false),
                    Name = table.Column<string>(type: "character varying(100)", maxLength: 100, nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_title_genres", x => new { x.TitleId, x.Slug });
                    table.ForeignKey(
                        name: "FK_title_genres_titles_TitleId",
                        column: x => x.TitleId,
                        principalSchema: "catalog",
                        principalTable: "titles",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "title_tags",
                schema: "catalog",
                columns: table => new
                {
                    TitleId = table.Column<Guid>(type: "uuid", nullable: false),
                    Tag = table.Column<string>(type: "character varying(100)", maxLength: 100, nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_title_tags", x => new { x.TitleId, x.Tag });
                    table.ForeignKey(
                        name: "FK_title_tags_titles_TitleId",
                        column: x => x.TitleId,
                        principalSchema: "catalog",
                        principalTable: "titles",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "title_texts",
                schema: "catalog",
                columns: table => new
                {
                    TitleId = table.Column<Guid>(type: "uuid", nullable: false),
                    Language = table.Column<string>(type: "character varying(20)", maxLength: 20, nullable: false),
                    Name = table.Column<string>(type: "character varying(300)", maxLength: 300, nullable: false),
                    Synopsis = table.Column<string>(type: "character varying(4000)", maxLength: 4000, nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_title_texts", x => new { x.TitleId, x.Language });
                    table.ForeignKey(
                        name: "FK_title_texts_titles_TitleId",
                        column: x => x.TitleId,
                        principalSchema: "catalog",
                        principalTable: "titles",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "credits",
                schema: "catalog",
                columns: table => new
                {
                    Id = table.Column<Guid>(type: "uuid", nullable: false),
                    TitleId = table.Column<Guid>(type: "uuid", nullable: false),
                    PersonId = table.Column<Guid>(type: "uuid", nullable: false),
                    Role = table.Column<string>(type: "character varying(20)", maxLength: 20, nullable: false),
                    Character = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: true),
                    Position = table.Column<int>(type: "integer", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_credits", x => x.Id);
                    table.ForeignKey(
                        name: "FK_credits_people_PersonId",
                        column: x => x.PersonId,
                        principalSchema: "catalog",
                        principalTable: "people",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Restrict);
                    table.ForeignKey(
                        name: "FK_credits_titles_TitleId",
                        column: x => x.TitleId,
                        principalSchema: "catalog",
                        principalTable: "titles",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "IX_titles_ChangedTicks",
                schema: "catalog",
                table: "titles",
                column: "ChangedTicks");

            migrationBuilder.CreateIndex(
                name: "IX_credits_PersonId",
                schema: "catalog",
                table: "credits",
                column: "PersonId");

            migrationBuilder.CreateIndex(
                name: "IX_credits_TitleId",
                schema: "catalog",
                table: "credits",
                column: "TitleId");

            migrationBuilder.CreateIndex(
                name: "IX_people_Name",
                schema: "catalog",
                table: "people",
                column: "Name",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_search_misses_At",
                schema: "catalog",
                table: "search_misses",
                column: "At");

            migrationBuilder.CreateIndex(
                name: "IX_title_genres_Slug",
                schema: "catalog",
                table: "title_genres",
                column: "Slug");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "age_ratings",
                schema: "catalog");

            migrationBuilder.DropTable(
                name: "credits",
                schema: "catalog");

            migrationBuilder.DropTable(
                name: "search_misses",
                schema: "catalog");

            migrationBuilder.DropTable(
                name: "title_genres",
                schema: "catalog");

            migrationBuilder.DropTable(
                name: "title_tags",
                schema: "catalog");

            migrationBuilder.DropTable(
                name: "title_texts",
                schema: "catalog");

            migrationBuilder.DropTable(
                name: "people",
                schema: "catalog");

            migrationBuilder.DropIndex(
                name: "IX_titles_ChangedTicks",
                schema: "catalog",
                table: "titles");

            migrationBuilder.DropColumn(
                name: "ChangedTicks",
                schema: "catalog",
                table: "titles");

            migrationBuilder.DropColumn(
                name: "DefaultLanguage",
                schema: "catalog",
                table: "titles");

            migrationBuilder.DropColumn(
                name: "Exclusive",
                schema: "catalog",
                table: "titles");

            migrationBuilder.DropColumn(
                name: "Plays",
                schema: "catalog",
                table: "titles");

            migrationBuilder.DropColumn(
                name: "ReleaseDate",
                schema: "catalog",
                table: "titles");

            migrationBuilder.DropColumn(
                name: "Season",
                schema: "catalog",
                table: "titles");
        }
    }
}
